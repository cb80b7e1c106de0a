import { isEnvPackError } from '@greentic/env-pack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import definitions from '../schemas/kubernetes-definitions.json' with { type: 'json' };
import { buildKubernetesDefinitions } from '../scripts/kubernetes-definitions';
import type { K8sObject } from './kinds';
import { validateManifest } from './manifest-schema';
import { checkPodSecurity } from './pod-security';
import { fastYaml, GENERATED_MARKER, libraryYaml, renderManifests, renderObjects, toYaml, workerName } from './render';
import { buildRulesPack, rbacObjects } from './rules-pack';
import { type SampleRevision, sampleDesiredState, sampleEnvironment } from './testing/sample-environment';

const env = sampleEnvironment('zain-prod');
const revisions: SampleRevision[] = [
  { deployment: 'support', id: 'r1', state: 'ready', weight: 7500 },
  { deployment: 'support', id: 'r2', state: 'ready', weight: 2500 },
  { deployment: 'support', id: 'r3', state: 'warming' },
  { deployment: 'support', id: 'r0', state: 'draining' },
  { deployment: 'support', id: 'old', state: 'archived' },
  { deployment: 'support', id: 'bad', state: 'failed' },
  { deployment: 'support', id: 'next', state: 'staged' },
  { deployment: 'billing', tenant: 'globex', id: 'r1', state: 'ready', weight: 10000 },
];
const desired = sampleDesiredState(env, revisions);

const byKind = (objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);
const get = (o: unknown, path: string): unknown =>
  path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], o);

// A deployment belongs to one tenant (billing → globex, the rest → acme).
const revisionArb = fc
  .record({
    deployment: fc.constantFrom('support', 'billing', 'a-b', 'a'),
    id: fc.stringMatching(/^[a-z][a-z0-9-]{0,61}[a-z0-9]$/),
    state: fc.constantFrom('staged', 'warming', 'ready', 'draining', 'archived', 'failed' as const),
    weight: fc.integer({ min: 0, max: 10000 }),
  })
  .map((r) => ({ ...r, tenant: r.deployment === 'billing' ? 'globex' : 'acme' }));
const revisionsArb = fc.uniqueArray(revisionArb, {
  maxLength: 12,
  selector: (r) => `${r.deployment}/${r.id}`,
});

describe('renderManifests', () => {
  it('gives byte-identical files for the same environment, whatever the order of its revisions', () => {
    fc.assert(
      fc.property(revisionsArb, fc.infiniteStream(fc.nat()), (revs, seeds) => {
        const shuffled = [...revs].sort(() => (seeds.next().value % 3) - 1);
        const a = renderManifests(sampleDesiredState(env, revs));
        const b = renderManifests(sampleDesiredState(env, shuffled));
        expect(b).toEqual(a);
      }),
      { numRuns: 40 },
    );
  });

  it('writes YAML byte-identical to the yaml library, with the fast path taken for all but the runtime config', () => {
    fc.assert(
      fc.property(revisionsArb, fc.constantFrom('User:alice', 'Group:ops', undefined), (revs, subject) => {
        const e = sampleEnvironment('zain-prod', { runAsUser: 4242, port: 9090 });
        const rbac = buildRulesPack(e, { generatedAt: '2026-01-01T00:00:00Z', ...(subject ? { subject } : {}) });
        const objects = [...renderObjects(sampleDesiredState(e, revs)), ...rbacObjects(e, { kind: 'User', name: 'a' })];
        for (const o of objects) {
          const fast = fastYaml(o);
          if (o.kind === 'ConfigMap') expect(fast).toBeUndefined();
          else expect(fast).toBe(libraryYaml(o));
          expect(toYaml(o)).toBe(`${GENERATED_MARKER}\n${libraryYaml(o)}`);
        }
        for (const f of rbac.files.filter((x) => x.path.endsWith('.yaml')))
          expect(parse(f.content)).toBeTypeOf('object');
      }),
      { numRuns: 25 },
    );
    // Scalars the library must quote (numbers, booleans, null-like, colons, leading symbols) keep its quoting.
    const tricky = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'x', labels: { a: '8080', b: 'true', c: 'null', d: 'a: b', e: '- x', f: "it's", g: '' } },
      data: { k: '#hash', l: ' lead', m: 'tab\there', n: '@at', o: '0x1F', p: '1e3', q: '~', r: '"q"' },
      list: [[1]],
    };
    const { list: _nested, ...flat } = tricky;
    expect(fastYaml(flat)).toBe(libraryYaml(flat));
    expect(fastYaml(tricky)).toBeUndefined(); // a list of lists goes to the library
    expect(fastYaml({ a: [], b: {}, c: [{}], d: [{ x: 1, y: [] }], e: 0.5, f: false })).toBe(
      libraryYaml({ a: [], b: {}, c: [{}], d: [{ x: 1, y: [] }], e: 0.5, f: false }),
    );
  });

  it('starts every file with the marker and keeps every map sorted', () => {
    for (const f of renderManifests(desired)) {
      expect(f.content.startsWith(`${GENERATED_MARKER}\n`)).toBe(true);
      const sortedEverywhere = (v: unknown): boolean => {
        if (Array.isArray(v)) return v.every(sortedEverywhere);
        if (v && typeof v === 'object') {
          const keys = Object.keys(v);
          return keys.join('\n') === [...keys].sort().join('\n') && Object.values(v).every(sortedEverywhere);
        }
        return true;
      };
      expect(sortedEverywhere(parse(f.content))).toBe(true);
    }
  });

  it('labels the namespace for Pod Security restricted (enforce, warn, audit) with versions', () => {
    const [ns] = byKind(renderObjects(desired), 'Namespace');
    expect(ns?.metadata.name).toBe('greentic-zain-prod');
    for (const mode of ['enforce', 'warn', 'audit']) {
      expect(ns?.metadata.labels?.[`pod-security.kubernetes.io/${mode}`]).toBe('restricted');
      expect(ns?.metadata.labels?.[`pod-security.kubernetes.io/${mode}-version`]).toBe('v1.37');
    }
  });

  it('runs one worker per warming, ready or draining revision, labelled and given its identity', () => {
    const workers = byKind(renderObjects(desired), 'Deployment').filter(
      (d) => d.metadata.labels?.['app.kubernetes.io/component'] === 'worker',
    );
    const ids = workers.map(
      (w) => `${w.metadata.labels?.['greentic.ai/deployment']}/${w.metadata.labels?.['greentic.ai/revision']}`,
    );
    expect(ids.sort()).toEqual(['billing/r1', 'support/r0', 'support/r1', 'support/r2', 'support/r3']);
    const billing = workers.find((w) => w.metadata.labels?.['greentic.ai/deployment'] === 'billing');
    expect(billing?.metadata.labels?.['greentic.ai/tenant']).toBe('globex');
    const envVars = get(billing, 'spec.template.spec.containers') as { env: { name: string; value: string }[] }[];
    const vars = Object.fromEntries((envVars[0]?.env ?? []).map((e) => [e.name, e.value]));
    expect(vars).toMatchObject({
      GREENTIC_DEPLOYMENT: 'billing',
      GREENTIC_ENVIRONMENT: 'zain-prod',
      GREENTIC_REVISION: 'r1',
      GREENTIC_TENANT: 'globex',
    });
  });

  it('runs the router with 2+ replicas, a disruption budget and a soft spread across hosts', () => {
    const objects = renderObjects(sampleDesiredState(sampleEnvironment('e', { routerReplicas: 3 }), []));
    const router = byKind(objects, 'Deployment').find((d) => d.metadata.name === 'greentic-router');
    expect(get(router, 'spec.replicas')).toBe(3);
    expect(get(router, 'spec.template.spec.topologySpreadConstraints')).toEqual([
      expect.objectContaining({ topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway' }),
    ]);
    const [pdb] = byKind(objects, 'PodDisruptionBudget');
    expect(pdb?.spec).toMatchObject({ maxUnavailable: 1, unhealthyPodEvictionPolicy: 'AlwaysAllow' });
    expect(get(pdb, 'spec.selector')).toEqual(get(router, 'spec.selector'));
  });

  it('mounts the runtime config as a folder, never with subPath, and routes only ready and draining revisions', () => {
    const objects = renderObjects(desired);
    const text = renderManifests(desired)
      .map((f) => f.content)
      .join('\n');
    expect(text).not.toContain('subPath');
    const router = byKind(objects, 'Deployment').find((d) => d.metadata.name === 'greentic-router');
    expect(get(router, 'spec.template.spec.volumes')).toContainEqual({
      configMap: { name: 'greentic-runtime-config' },
      name: 'runtime-config',
    });
    const [cm] = byKind(objects, 'ConfigMap');
    const config = JSON.parse((cm?.data as Record<string, string> | undefined)?.['runtime-config.json'] ?? '{}');
    const support = config.deployments.find((d: { name: string }) => d.name === 'support');
    expect(support.revisions.map((r: { id: string; weight: number }) => [r.id, r.weight])).toEqual([
      ['r0', 0],
      ['r1', 7500],
      ['r2', 2500],
    ]);
    expect(support.revisions[1].endpoint).toBe(`http://${workerName('support', 'r1')}.greentic-zain-prod.svc:8080`);
  });

  it('denies all ingress and egress by default, then allows router ← ingress, router → workers and DNS', () => {
    const nps = byKind(renderObjects(desired), 'NetworkPolicy');
    const byName = Object.fromEntries(nps.map((n) => [n.metadata.name, n.spec]));
    expect(byName['default-deny']).toEqual({ podSelector: {}, policyTypes: ['Egress', 'Ingress'] });
    expect(Object.keys(byName).sort()).toEqual([
      'allow-dns-egress',
      'allow-router-from-ingress',
      'allow-router-to-workers',
      'allow-workers-from-router',
      'default-deny',
    ]);
    expect(JSON.stringify(byName['allow-dns-egress'])).toContain('"port":53');
    expect(JSON.stringify(byName['allow-router-from-ingress'])).toContain('ingress-nginx');
  });

  it('every pod template passes Pod Security restricted and every object its Kubernetes schema', () => {
    fc.assert(
      fc.property(revisionsArb, (revs) => {
        for (const o of renderObjects(sampleDesiredState(env, revs))) {
          expect(validateManifest(o)).toEqual({ ok: true });
          if (o.kind !== 'Deployment') continue;
          const template = get(o, 'spec.template') as { spec: { containers: Record<string, unknown>[] } };
          expect(checkPodSecurity(template, 'restricted')).toMatchObject({ allowed: true });
          const podSpec = template.spec as Record<string, unknown>;
          expect(podSpec.automountServiceAccountToken).toBe(false);
          for (const c of template.spec.containers) {
            expect(get(c, 'securityContext.readOnlyRootFilesystem')).toBe(true);
            expect(typeof get(c, 'securityContext.runAsUser')).toBe('number');
            expect(get(c, 'resources.limits.memory')).toBeDefined();
            expect(get(c, 'resources.requests.cpu')).toBeDefined();
            expect(get(c, 'readinessProbe.httpGet')).toBeDefined();
            expect(c.volumeMounts).toContainEqual({ mountPath: '/tmp', name: 'tmp' });
          }
        }
      }),
      { numRuns: 25 },
    );
  });

  it('gives workers distinct names of at most 63 characters, even when ids would run together', () => {
    expect(workerName('a-b', 'c')).not.toBe(workerName('a', 'b-c'));
    const long = 'x'.repeat(63);
    expect(workerName(long, long).length).toBeLessThanOrEqual(63);
    expect(workerName(long, long)).toMatch(/^[a-z]([-a-z0-9]*[a-z0-9])?$/);
  });

  it('refuses a bad deployer setting, naming the key and the fix', () => {
    const bad = sampleDesiredState(sampleEnvironment('e', { routerReplicas: 1 }), []);
    expect(() => renderObjects(bad)).toThrow(
      /routerReplicas=1 must be an integer ≥ 2; fix slots.deployer.config.routerReplicas/,
    );
    try {
      renderObjects(bad);
    } catch (e) {
      expect(isEnvPackError(e, 'refused')).toBe(true);
    }
  });

  it('refuses a deployment listed under two tenants', () => {
    const bad = sampleDesiredState(env, [
      { deployment: 'support', tenant: 'acme', id: 'r1', state: 'ready' },
      { deployment: 'support', tenant: 'globex', id: 'r2', state: 'staged' },
    ]);
    expect(() => renderObjects(bad)).toThrow(/deployment support is listed under tenants acme and globex/);
  });

  it('refuses a revision with no image, naming the revision', () => {
    const noImage = sampleEnvironment('e');
    const { workerImage: _, ...config } = noImage.slots.deployer?.config ?? {};
    const env2 = { ...noImage, slots: { deployer: { id: 'greentic.deployer.k8s', config } } };
    expect(() =>
      renderObjects(sampleDesiredState(env2, [{ deployment: 'support', id: 'r1', state: 'ready' }])),
    ).toThrow(/revision r1 of e\/support: no container image/);
  });
});

describe('validateManifest', () => {
  it('rejects unknown fields, naming them', () => {
    const r = validateManifest({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x' }, spek: {} });
    expect(r).toEqual({ ok: false, errors: [{ path: '/', message: 'unknown field spek' }] });
  });

  it('rejects a wrong type deep inside a pod template', () => {
    const [router] = byKind(renderObjects(desired), 'Deployment');
    const broken = JSON.parse(JSON.stringify(router));
    broken.spec.template.spec.containers[0].securityContext.runAsUser = 'root';
    const r = validateManifest(broken);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]?.path).toBe('/spec/template/spec/containers/0/securityContext/runAsUser');
  });

  it('refuses a kind outside the closed table', () => {
    expect(() => validateManifest({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'x' } })).toThrow(
      /kind Secret \(v1\) is not in the closed kind table/,
    );
  });

  it('uses the schemas the installed @kubernetes/client-node describes (vendored file is up to date)', () => {
    expect(buildKubernetesDefinitions()).toEqual(definitions);
  });
});
