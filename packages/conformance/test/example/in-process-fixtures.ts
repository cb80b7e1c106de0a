import type { DeployerFixtures } from '@greentic/conformance';
import type { Environment, Permission } from '@greentic/deploy-spec';
import type { RevisionTarget } from '@greentic/env-pack';
import { createInProcessDeployer, EXAMPLE_PACK_ID } from './in-process-deployer';

// The fixtures tell the suite how to make targets for this deployer and how to break its workers behind its back.
export function createFixtures(): DeployerFixtures {
  const pack = createInProcessDeployer();
  const environment: Environment = { name: 'test', slots: {}, config: {} };
  const target = (deployment: string, tenant: string, id: string, fail: boolean): RevisionTarget => {
    const digest = `sha256:${Buffer.from(`${deployment}/${id}`).toString('hex').padEnd(64, '0').slice(0, 64)}`;
    const bundle = { id: 'app', version: '1.0.0', digest };
    return {
      deployment: { environment: 'test', name: deployment, tenant, billingCustomer: tenant, bundleId: 'app' },
      bundle: { ...bundle, capabilities: [], secrets: [], runtime: [] },
      revision: {
        ...{ environment: 'test', deployment, id, bundle, secretRefs: [], state: 'staged' },
        packConfig: fail ? { [EXAMPLE_PACK_ID]: { fail: 'health' } } : {},
        createdAt: new Date().toISOString(),
      },
      weight: 0,
    };
  };
  const grant = (p: readonly Permission[]) => ({ value: JSON.stringify(p) });
  const needs = pack.credentials.requirements({ environment, stateDir: '' });
  const worker = (t: RevisionTarget) => pack.workers.get(`${t.deployment.name}/${t.revision.id}`)!;
  return {
    pack,
    ctx: { environment, stateDir: '' },
    healthyTarget: (d, tenant, id) => target(d, tenant, id, false),
    failingTarget: (d, tenant, id) => target(d, tenant, id, true),
    tamper: {
      async killWorker(t) {
        worker(t).server.closeAllConnections();
        await new Promise((resolve) => worker(t).server.close(resolve));
      },
      async changeWorker(t) {
        worker(t).digest = `sha256:${'f'.repeat(64)}`;
      },
    },
    credentials: {
      missing: grant([]),
      extra: grant([...needs, { resource: 'shell', verbs: ['exec'], scope: 'host' }]),
      exact: grant(needs),
    },
    inFlightRequest: async (endpoint, ms) => {
      const res = await fetch(`${endpoint}/work?ms=${ms}`);
      return { status: res.status, body: await res.text() };
    },
    publishedRoutes: async () => pack.publishedRoutes(),
    cleanup: async () => {},
  };
}
