import { CHECK_IDS } from '@greentic/conformance';
import { describeDeployer } from '@greentic/conformance/vitest';
import { createClusterFixtures } from './cluster-fixtures';
import { createK8sFixtures } from './k8s-fixtures';

// The full conformance suite for greentic.deployer.k8s. In CI it runs against the fake API server; with
// GREENTIC_K8S_KUBECONFIG set it runs the same checks against that cluster (README, "Against a real cluster").
const kubeconfig = process.env.GREENTIC_K8S_KUBECONFIG;

if (kubeconfig) {
  const withTokens = process.env.GREENTIC_K8S_TOKEN_EXACT !== undefined;
  describeDeployer({
    name: 'greentic.deployer.k8s (cluster)',
    create: () => createClusterFixtures(kubeconfig),
    only: CHECK_IDS.filter((id) => withTokens || id !== 'credentials-verify'),
    timeouts: { warmMs: 120_000, failMs: 30_000, drainMs: 60_000, driftMs: 30_000, settleSlackMs: 30_000 },
  });
} else {
  describeDeployer({
    name: 'greentic.deployer.k8s',
    create: () => createK8sFixtures(),
    timeouts: { warmMs: 5_000, failMs: 1_000, drainMs: 8_000, driftMs: 3_000 },
  });
}
