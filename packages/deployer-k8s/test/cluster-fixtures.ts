import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DeployerFixtures } from '@greentic/conformance';
import type { PackContext, RevisionTarget } from '@greentic/env-pack';
import { createK8sDeployer, type K8sDeployerPack } from '../src/deployer';
import type { K8sObject } from '../src/kinds';
import { KubeClient } from '../src/kube-client';
import { loadKubeTarget } from '../src/kubeconfig';
import { workerName } from '../src/render';
import { readSettings } from '../src/settings';
import { sampleEnvironment, sampleTarget } from '../src/testing/sample-environment';

/**
 * Conformance fixtures against a real cluster (kind), selected by GREENTIC_K8S_KUBECONFIG. Not run in CI (no cluster
 * can run there); see README "Against a real cluster" for the set-up this expects:
 * - GREENTIC_K8S_KUBECONFIG: the kubeconfig (required; its current context, or GREENTIC_K8S_CONTEXT);
 * - GREENTIC_K8S_WORKER_IMAGE: an image serving the hello-worker contract (/healthz, /slow?ms=N) on $PORT;
 * - the test process must reach `<service>.<namespace>.svc` (run it in a pod of the cluster);
 * - GREENTIC_K8S_TOKEN_EXACT / _MISSING / _EXTRA: bearer tokens for credentials-verify (skipped when absent).
 */
export async function createClusterFixtures(kubeconfig: string): Promise<DeployerFixtures & { pack: K8sDeployerPack }> {
  const environment = sampleEnvironment(`conformance-${process.pid}`, {
    workerImage: process.env.GREENTIC_K8S_WORKER_IMAGE ?? 'ghcr.io/greentic-ai/hello-worker:0.1.0',
  });
  const { namespace } = readSettings(environment);
  const target = await loadKubeTarget({
    path: kubeconfig,
    ...(process.env.GREENTIC_K8S_CONTEXT ? { context: process.env.GREENTIC_K8S_CONTEXT } : {}),
  });
  const pack = createK8sDeployer({ target, pollIntervalMs: 250 });
  const kubectl = new KubeClient(target, { fieldManager: 'kubectl', force: true });
  const stateDir = mkdtempSync(join(tmpdir(), 'greentic-k8s-cluster-'));
  const ctx: PackContext = { environment, stateDir };
  const make = (deployment: string, tenant: string, id: string, healthPath: string): RevisionTarget => {
    const t = sampleTarget(environment.name, { deployment, tenant, id, state: 'staged' });
    return { ...t, bundle: { ...t.bundle, launch: { healthPath } } };
  };
  const token = (name: string) => process.env[`GREENTIC_K8S_TOKEN_${name}`] ?? 'unset-token-for-this-run';
  return {
    pack,
    ctx,
    healthyTarget: (d, tenant, r) => make(d, tenant, r, '/healthz'),
    failingTarget: (d, tenant, r) => make(d, tenant, r, '/never-ready'),
    tamper: {
      async killWorker(t) {
        await kubectl.delete('Deployment', 'apps/v1', namespace, workerName(t.deployment.name, t.revision.id));
        for (let i = 0; i < 240; i++) {
          if (!(await kubectl.get('Deployment', 'apps/v1', namespace, workerName(t.deployment.name, t.revision.id))))
            return;
          await sleep(250);
        }
      },
      async changeWorker(t) {
        const name = workerName(t.deployment.name, t.revision.id);
        const live = await kubectl.get('Deployment', 'apps/v1', namespace, name);
        if (!live) throw new Error(`no Deployment ${name}`);
        const spec = structuredClone(live.spec) as {
          template: { spec: { containers: { env: { name: string; value: string }[] }[] } };
        };
        for (const e of spec.template.spec.containers[0]?.env ?? []) {
          if (e.name === 'GREENTIC_BUNDLE_DIGEST') e.value = `sha256:${'f'.repeat(64)}`;
        }
        const changed: K8sObject = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace }, spec };
        await kubectl.apply(changed);
      },
    },
    credentials: {
      exact: { value: token('EXACT') },
      missing: { value: token('MISSING') },
      extra: { value: token('EXTRA') },
    },
    publishedRoutes: () => pack.readPublishedRoutes(ctx),
    async cleanup() {
      await kubectl.delete('Namespace', 'v1', undefined, namespace);
      await kubectl.close();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
