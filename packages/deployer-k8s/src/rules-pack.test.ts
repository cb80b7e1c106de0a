import { validate } from '@greentic/deploy-spec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { K8sObject } from './kinds';
import { KubeClient } from './kube-client';
import { targetFor } from './kubeconfig';
import { validateManifest } from './manifest-schema';
import { renderObjects } from './render';
import { buildRulesPack, probeRights, rbacObjects, requirementsFor } from './rules-pack';
import { type FakeApiServer, fakeRulesOf, startFakeApiServer } from './testing/fake-apiserver';
import { sampleDesiredState, sampleEnvironment } from './testing/sample-environment';

const env = sampleEnvironment('zain-prod');
const exactRules = fakeRulesOf(rbacObjects(env, { kind: 'User', name: 'deployer' }));

describe('requirementsFor', () => {
  it('asks for patch, create, get and delete on every namespaced kind the render produces', () => {
    const reqs = requirementsFor(env);
    const kinds = new Set(
      renderObjects(sampleDesiredState(env, [{ deployment: 'd', id: 'r1', state: 'ready' }])).map((o) => o.kind),
    );
    const resourceOf: Record<string, string> = {
      ConfigMap: 'configmaps',
      Deployment: 'apps/deployments',
      NetworkPolicy: 'networking.k8s.io/networkpolicies',
      PodDisruptionBudget: 'policy/poddisruptionbudgets',
      Service: 'services',
    };
    for (const kind of kinds) {
      if (kind === 'Namespace') continue;
      const p = reqs.find((r) => r.resource === resourceOf[kind] && r.scope === 'namespace');
      expect(p?.verbs, kind).toEqual(expect.arrayContaining(['create', 'delete', 'get', 'patch']));
    }
    expect(reqs.find((r) => r.scope === 'cluster' && r.resource === 'namespaces')?.verbs).toEqual([
      'create',
      'get',
      'patch',
    ]);
    expect(JSON.stringify(reqs)).not.toContain('secrets');
  });
});

describe('buildRulesPack', () => {
  const pack = buildRulesPack(env, { generatedAt: '2026-11-23T10:00:00Z' });

  it('is a valid rules pack whose RBAC files pass the Kubernetes schemas', () => {
    expect(validate('rules-pack', pack)).toMatchObject({ ok: true });
    expect(pack.files.map((f) => f.path)).toEqual([
      'namespace/serviceaccount-greentic-deployer.yaml',
      'namespace/role-greentic-deployer.yaml',
      'namespace/rolebinding-greentic-deployer.yaml',
      'cluster/clusterrole-greentic-deployer-greentic-zain-prod.yaml',
      'cluster/clusterrolebinding-greentic-deployer-greentic-zain-prod.yaml',
      'README.md',
    ]);
    for (const f of pack.files.filter((x) => x.path.endsWith('.yaml'))) {
      expect(validateManifest(parse(f.content) as K8sObject), f.path).toEqual({ ok: true });
    }
  });

  it('states the namespace rights and the cluster rights separately, the latter scoped to its own namespace', () => {
    const role = parse(pack.files[1]?.content ?? '');
    expect(role.metadata.namespace).toBe('greentic-zain-prod');
    const clusterRole = parse(pack.files[3]?.content ?? '');
    expect(clusterRole.rules).toEqual([
      { apiGroups: [''], resources: ['namespaces'], verbs: ['create'] },
      { apiGroups: [''], resourceNames: ['greentic-zain-prod'], resources: ['namespaces'], verbs: ['get', 'patch'] },
    ]);
  });

  it('binds a given user instead of the default service account', () => {
    const p = buildRulesPack(env, { generatedAt: '2026-11-23T10:00:00Z', subject: 'User:alice' });
    expect(p.files.some((f) => f.path.includes('serviceaccount'))).toBe(false);
    expect(parse(p.files[1]?.content ?? '').subjects).toEqual([
      { apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'alice' },
    ]);
    expect(() => buildRulesPack(env, { generatedAt: '2026-11-23T10:00:00Z', subject: 'alice' })).toThrow(/User:<name>/);
  });
});

describe('probeRights (mode A, SelfSubjectAccessReview)', () => {
  let fake: FakeApiServer;
  beforeAll(async () => {
    fake = await startFakeApiServer({
      users: {
        exact: { name: 'exact', rules: exactRules },
        lacking: {
          name: 'lacking',
          rules: exactRules.map((r) =>
            r.resources.includes('deployments') ? { ...r, verbs: r.verbs.filter((v) => v !== 'delete') } : r,
          ),
        },
        greedy: {
          name: 'greedy',
          rules: [...exactRules, { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list'] }],
        },
        admin: { name: 'admin', rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }] },
      },
    });
  });
  afterAll(async () => {
    await fake.close();
  });
  const probe = async (token: string) => {
    const client = new KubeClient(targetFor(fake.url, token));
    try {
      return await probeRights(client, env);
    } finally {
      await client.close();
    }
  };

  it('finds nothing missing and nothing extra for exactly the rules pack', async () => {
    expect(await probe('exact')).toEqual({ missing: [], extra: [] });
  });

  it('reports a missing right by resource and verb', async () => {
    expect(await probe('lacking')).toEqual({
      missing: [{ resource: 'apps/deployments', scope: 'namespace', verbs: ['delete'] }],
      extra: [],
    });
  });

  it('reports rights it must not hold', async () => {
    expect((await probe('greedy')).extra).toEqual([
      { resource: 'secrets', scope: 'cluster', verbs: ['list'] },
      { resource: 'secrets', scope: 'namespace', verbs: ['get'] },
    ]);
    const admin = await probe('admin');
    expect(admin.missing).toEqual([]);
    expect(admin.extra.map((p) => p.resource)).toEqual(
      expect.arrayContaining(['*/*', 'namespaces:kube-system', 'pods/exec']),
    );
  });

  it('probes patch, create, get and delete per kind through SelfSubjectAccessReview', () => {
    const reviews = fake.requests.filter((r) => r.path === '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews');
    expect(reviews.length).toBeGreaterThan(20);
  });
});
