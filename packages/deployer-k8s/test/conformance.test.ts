import { describeDeployer } from '@greentic/conformance/vitest';
import { createK8sFixtures } from './k8s-fixtures';

// The full conformance suite for greentic.deployer.k8s, against the fake API server (see README: how to run the
// same suite against a kind cluster).
describeDeployer({
  name: 'greentic.deployer.k8s',
  create: () => createK8sFixtures(),
  timeouts: { warmMs: 5_000, failMs: 1_000, drainMs: 8_000, driftMs: 3_000 },
});
