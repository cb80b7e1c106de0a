import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createPackRegistry,
  type DeployerPack,
  type EnvPackError,
  isEnvPackError,
  type PackContext,
} from '@greentic/env-pack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createK8sDeployer, type K8sDeployerPack, phaseOf, planK8s } from '../src/deployer';
import { targetFor } from '../src/kubeconfig';
import { checkPodSecurity } from '../src/pod-security';
import { workerName } from '../src/render';
import { rbacObjects } from '../src/rules-pack';
import { type FakeApiServer, fakeRulesOf, startFakeApiServer } from '../src/testing/fake-apiserver';
import { sampleDesiredState, sampleEnvironment, sampleTarget } from '../src/testing/sample-environment';

const environment = sampleEnvironment('unit');
const NS = 'greentic-unit';
const exact = fakeRulesOf(rbacObjects(environment, { kind: 'User', name: 'deployer' }));

async function caught(p: Promise<unknown>): Promise<EnvPackError> {
  try {
    await p;
  } catch (e) {
    if (isEnvPackError(e)) return e;
    throw e;
  }
  throw new Error('expected an EnvPackError');
}

let fake: FakeApiServer;
let pack: K8sDeployerPack;
let ctx: PackContext;
let stateDir: string;
beforeAll(async () => {
  fake = await startFakeApiServer({
    pods: true,
    availableAfterMs: 20,
    users: {
      'deployer-token-0123': { name: 'deployer', rules: exact },
      'admin-token-0123': { name: 'admin', rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }] },
      'weak-token-0123': { name: 'weak', rules: [] },
    },
  });
  pack = createK8sDeployer({
    target: targetFor(fake.url, 'deployer-token-0123'),
    endpointOf: ({ namespace, name }) => fake.endpointOf(namespace, name),
    pollIntervalMs: 20,
  });
  stateDir = mkdtempSync(join(tmpdir(), 'greentic-k8s-unit-'));
  ctx = {
    environment,
    stateDir,
    secrets: {
      resolve: async (ref) => {
        if (ref === 'secret://unit/k8s-token') return 'deployer-token-0123';
        throw new Error(`no ${ref}`);
      },
    },
  };
});
afterAll(async () => {
  await pack.close?.();
  await fake.close();
  rmSync(stateDir, { recursive: true, force: true });
});

describe('greentic.deployer.k8s over the fake API server', () => {
  it('passes preflight with exactly the rules-pack rights, and says what is missing otherwise', async () => {
    const report = await pack.preflight(ctx);
    expect(report.checks.map((c) => [c.name, c.ok])).toEqual([
      ['kubeconfig', true],
      ['reachability', true],
      ['rights', true],
    ]);
    const weak = createK8sDeployer({ target: targetFor(fake.url, 'weak-token-0123') });
    try {
      const bad = await weak.preflight(ctx);
      expect(bad.ok).toBe(false);
      expect(bad.checks.find((c) => c.name === 'rights')?.message).toContain('apps/deployments');
      expect(bad.checks.find((c) => c.name === 'rights')?.fix).toContain('rules pack');
    } finally {
      await weak.close?.();
    }
  });

  it('apply materialises the environment and a worker with 0 replicas; every applied pod is Restricted', async () => {
    const t = sampleTarget('unit', { deployment: 'support', id: 'r1', state: 'staged' });
    await pack.apply(ctx, t);
    const ns = fake.get('Namespace', undefined, NS);
    expect(ns?.metadata.labels).toMatchObject({ 'pod-security.kubernetes.io/enforce': 'restricted' });
    const worker = fake.get('Deployment', NS, workerName('support', 'r1'));
    expect(worker?.spec).toMatchObject({ replicas: 0 });
    for (const d of fake.list('Deployment')) {
      expect(checkPodSecurity((d.spec as { template: unknown }).template, 'restricted').allowed).toBe(true);
    }
    expect(fake.list('NetworkPolicy').map((n) => n.metadata.name)).toContain('default-deny');
    expect((await pack.status(ctx, { deployment: 'support' })).revisions).toEqual([
      expect.objectContaining({ deployment: 'support', revision: 'r1', tenant: 'acme', phase: 'stopped' }),
    ]);
  });

  it('warm waits for the rollout and answers with an endpoint that serves', async () => {
    const t = sampleTarget('unit', { deployment: 'support', id: 'r1', state: 'warming' });
    const { endpoint, health } = await pack.warm(ctx, t, { timeoutMs: 5000 });
    expect(health.passed).toBe(true);
    const res = await fetch(endpoint);
    expect(await res.json()).toMatchObject({ revision: 'r1', bundleDigest: t.bundle.digest });
    const live = await pack.status(ctx);
    expect(live.revisions.find((r) => r.revision === 'r1')).toMatchObject({
      phase: 'running',
      endpoint,
      bundleDigest: t.bundle.digest,
    });
  });

  it('publishes routes to the router ConfigMap and refuses a config that breaks the rules, changing nothing', async () => {
    const t = sampleTarget('unit', { deployment: 'support', id: 'r1', state: 'ready', weight: 10_000 });
    const desired = { environment, targets: [t] };
    const config = pack.runtimeConfig(desired, await pack.status(ctx), 7);
    await pack.publishRoutes(ctx, config);
    expect(await pack.readPublishedRoutes(ctx)).toEqual(config);
    const broken = {
      ...config,
      generation: 8,
      deployments: config.deployments.map((d) => ({ ...d, revisions: d.revisions.map((r) => ({ ...r, weight: 10 })) })),
    };
    const e = await caught(pack.publishRoutes(ctx, broken));
    expect(e.code).toBe('refused');
    expect(e.message).toContain('weights sum to 10 bps');
    expect(await pack.readPublishedRoutes(ctx)).toEqual(config);
  });

  it('refuses to drain or archive a revision that holds traffic, naming it', async () => {
    const t = sampleTarget('unit', { deployment: 'support', id: 'r1', state: 'ready', weight: 10_000 });
    const e = await caught(pack.archive(ctx, t));
    expect(e.code).toBe('refused');
    expect(e.message).toContain('revision r1 of unit/support: cannot archive, it holds 10000 bps');
  });

  it('refuses to drain while the published router config still routes traffic to the revision', async () => {
    const t = sampleTarget('unit', { deployment: 'support', id: 'r1', state: 'draining' });
    const e = await caught(pack.drain(ctx, t, { timeoutMs: 5000 }));
    expect(e.code).toBe('refused');
    expect(e.message).toContain('still routes 10000 bps to it; publish routes first');
    expect(fake.get('Deployment', NS, workerName('support', 'r1'))?.spec).toMatchObject({ replicas: 1 });
  });

  it('drain marks the revision draining in the router config, scales to 0; archive removes it everywhere', async () => {
    const ready = sampleTarget('unit', { deployment: 'support', id: 'r1', state: 'ready', weight: 0 });
    await pack.publishRoutes(ctx, pack.runtimeConfig({ environment, targets: [ready] }, await pack.status(ctx), 9));
    const t = sampleTarget('unit', { deployment: 'support', id: 'r1', state: 'draining' });
    await pack.drain(ctx, t, { timeoutMs: 5000 });
    expect((await pack.readPublishedRoutes(ctx))?.deployments[0]?.revisions).toEqual([
      expect.objectContaining({ id: 'r1', state: 'draining', weight: 0 }),
    ]);
    expect(fake.get('Deployment', NS, workerName('support', 'r1'))?.spec).toMatchObject({ replicas: 0 });
    await pack.archive(ctx, { ...t, revision: { ...t.revision, state: 'archived' } });
    expect(fake.get('Deployment', NS, workerName('support', 'r1'))).toBeUndefined();
    expect(fake.get('Service', NS, workerName('support', 'r1'))).toBeUndefined();
    const routes = await pack.readPublishedRoutes(ctx);
    expect(routes?.deployments.find((d) => d.name === 'support')?.revisions).toEqual([]);
    expect(routes?.generation).toBe(11);
  });

  it('verifies a key given by secret:// reference and never returns the token', async () => {
    const v = await pack.credentials.verify(ctx, { ref: 'secret://unit/k8s-token' });
    expect(v).toEqual({ ok: true, subject: 'deployer', missing: [], extra: [] });
    const admin = await pack.credentials.verify(ctx, { value: 'admin-token-0123' });
    expect(admin.ok).toBe(false);
    expect(JSON.stringify(admin)).not.toContain('admin-token-0123');
    expect((await caught(pack.credentials.verify(ctx, {}))).code).toBe('credentials');
  });

  it('bootstraps a rules pack only with a master key able to grant it', async () => {
    const rules = await pack.credentials.bootstrap(ctx, { value: 'admin-token-0123' });
    expect(rules.files.map((f) => f.path)).toContain('namespace/role-greentic-deployer.yaml');
    const e = await caught(pack.credentials.bootstrap(ctx, { value: 'weak-token-0123' }));
    expect(e.code).toBe('credentials');
    expect(e.message).not.toContain('weak-token-0123');
  });
});

describe('phaseOf', () => {
  const deployment = (status: Record<string, unknown>, generation = 2) => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'w', generation },
    spec: { replicas: 2 },
    status: { observedGeneration: 2, ...status },
  });

  it('is running only once the rollout is complete, as `kubectl rollout status` judges it', () => {
    const done = { replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 };
    expect(phaseOf(deployment(done))).toBe('running');
    // A new spec not yet seen by the controller.
    expect(phaseOf(deployment(done, 3))).toBe('starting');
    // The old pods still serve (maxUnavailable 0), no pod of the new template yet.
    expect(phaseOf(deployment({ replicas: 2, updatedReplicas: 0, readyReplicas: 2, availableReplicas: 2 }))).toBe(
      'starting',
    );
    // Half way: one new pod, old pods still running beside it.
    expect(phaseOf(deployment({ replicas: 3, updatedReplicas: 1, readyReplicas: 3, availableReplicas: 3 }))).toBe(
      'starting',
    );
    // Every pod new, an old one still terminating.
    expect(phaseOf(deployment({ replicas: 3, updatedReplicas: 2, readyReplicas: 3, availableReplicas: 3 }))).toBe(
      'starting',
    );
    // Every pod new, one not available yet.
    expect(phaseOf(deployment({ replicas: 2, updatedReplicas: 2, readyReplicas: 1, availableReplicas: 1 }))).toBe(
      'starting',
    );
  });
});

describe('planK8s', () => {
  it('proposes warm for a ready revision that is stopped, removal of unknown ones, then a route step', () => {
    const desired = sampleDesiredState(environment, [
      { deployment: 'support', id: 'r2', state: 'ready', weight: 10_000 },
    ]);
    const live = {
      environment: 'unit',
      observedAt: '2026-11-23T10:00:00Z',
      revisions: [
        { deployment: 'support', tenant: 'acme', revision: 'r2', phase: 'stopped' as const },
        { deployment: 'support', tenant: 'acme', revision: 'zombie', phase: 'running' as const },
      ],
    };
    expect(planK8s(desired, live).map((a) => [a.kind, 'revision' in a ? a.revision : '-'])).toEqual([
      ['warm', 'r2'],
      ['remove', 'zombie'],
      ['route', '-'],
    ]);
    expect(
      planK8s(desired, { ...live, revisions: [{ ...live.revisions[0], phase: 'running' as const }] } as never),
    ).toEqual([]);
  });
});

describe('the package as an env-pack', () => {
  it('is found by id through the registry and builds a deployer', async () => {
    const dir = fileURLToPath(new URL('..', import.meta.url));
    const registry = createPackRegistry({ packageDirs: [dir] });
    expect(registry.describe('greentic.deployer.k8s')).toMatchObject({
      slot: 'deployer',
      packageName: '@greentic/deployer-k8s',
    });
    const resolved = await registry.resolve<DeployerPack>('greentic.deployer.k8s', {
      config: { context: 'kind-greentic' },
    });
    expect(resolved.id).toBe('greentic.deployer.k8s');
    expect(resolved.capabilities.render).toBe(true);
  });
});
