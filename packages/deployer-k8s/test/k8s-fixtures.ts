import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DeployerFixtures } from '@greentic/conformance';
import type { PackContext, RevisionTarget } from '@greentic/env-pack';
import { createK8sDeployer, type K8sDeployerPack } from '../src/deployer';
import { targetFor } from '../src/kubeconfig';
import { workerName } from '../src/render';
import { rbacObjects } from '../src/rules-pack';
import { readSettings } from '../src/settings';
import { type FakeApiServer, type FakeObject, fakeRulesOf, startFakeApiServer } from '../src/testing/fake-apiserver';
import { sampleEnvironment, sampleTarget } from '../src/testing/sample-environment';

// Tokens are long enough for the suite's "verify never echoes the credential" check to mean something.
const TOKENS = {
  deployer: 'deployer-token-0123456789',
  exact: 'exact-token-0123456789',
  missing: 'missing-token-0123456789',
  extra: 'extra-token-0123456789',
} as const;

export interface K8sFixtures extends DeployerFixtures {
  readonly pack: K8sDeployerPack;
  readonly fake: FakeApiServer;
}

/**
 * Conformance fixtures for greentic.deployer.k8s against the fake API server, whose "pods" are local HTTP servers
 * (see the README): healthy targets probe /healthz, failing ones a readiness path no pod answers.
 */
export async function createK8sFixtures(): Promise<K8sFixtures> {
  const environment = sampleEnvironment('conformance');
  const { namespace } = readSettings(environment);
  const exact = fakeRulesOf(rbacObjects(environment, { kind: 'User', name: 'exact' }));
  const fake = await startFakeApiServer({
    pods: true,
    availableAfterMs: 30,
    namespaceTerminationMs: 50,
    users: {
      [TOKENS.deployer]: { name: 'deployer', rules: exact },
      [TOKENS.exact]: { name: 'exact', rules: exact },
      [TOKENS.missing]: {
        name: 'missing',
        rules: exact.map((r) =>
          r.resources.includes('deployments') ? { ...r, verbs: r.verbs.filter((v) => v !== 'patch') } : r,
        ),
      },
      [TOKENS.extra]: {
        name: 'extra',
        rules: [...exact, { apiGroups: [''], resources: ['secrets'], verbs: ['list'] }],
      },
    },
  });
  const pack = createK8sDeployer({
    target: targetFor(fake.url, TOKENS.deployer),
    endpointOf: ({ namespace: ns, name }) => fake.endpointOf(ns, name),
    pollIntervalMs: 25,
  });
  const stateDir = mkdtempSync(join(tmpdir(), 'greentic-k8s-conformance-'));
  const ctx: PackContext = { environment, stateDir };
  const target = (deployment: string, tenant: string, id: string, healthPath: string): RevisionTarget => {
    const t = sampleTarget(environment.name, { deployment, tenant, id, state: 'staged' });
    return { ...t, bundle: { ...t.bundle, launch: { healthPath } } };
  };
  const deploymentOf = (t: RevisionTarget) => workerName(t.deployment.name, t.revision.id);
  return {
    pack,
    fake,
    ctx,
    healthyTarget: (d, tenant, r) => target(d, tenant, r, '/healthz'),
    failingTarget: (d, tenant, r) => target(d, tenant, r, '/never-ready'),
    tamper: {
      async killWorker(t) {
        fake.remove('Deployment', namespace, deploymentOf(t));
      },
      async changeWorker(t) {
        const live = fake.get('Deployment', namespace, deploymentOf(t));
        if (!live) throw new Error(`no Deployment for ${t.revision.id}`);
        const changed = structuredClone(live) as FakeObject;
        const spec = changed.spec as {
          template: { spec: { containers: { env: { name: string; value: string }[] }[] } };
        };
        for (const e of spec.template.spec.containers[0]?.env ?? []) {
          if (e.name === 'GREENTIC_BUNDLE_DIGEST') e.value = `sha256:${'f'.repeat(64)}`;
        }
        // Someone runs `kubectl apply --server-side --force-conflicts` with another image digest.
        const { status } = fake.applyAs('kubectl', { ...changed, status: undefined } as FakeObject, { force: true });
        if (status !== 200) throw new Error(`out-of-band change answered ${status}`);
        for (let i = 0; i < 100; i++) {
          const d = fake.get('Deployment', namespace, deploymentOf(t));
          if ((d?.status as { readyReplicas?: number } | undefined)?.readyReplicas) return;
          await sleep(20);
        }
      },
    },
    credentials: {
      missing: { value: TOKENS.missing },
      extra: { value: TOKENS.extra },
      exact: { value: TOKENS.exact },
    },
    publishedRoutes: () => pack.readPublishedRoutes(ctx),
    async cleanup() {
      await fake.close();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
