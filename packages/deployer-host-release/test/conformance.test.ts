import { describeDeployer } from '@greentic/conformance/vitest';
import { createConformanceFixtures } from '../src/index';

// Every check of the conformance suite runs against the host-release pack over a real sshd, through the same
// fixtures `gtc op env-packs conformance greentic.deployer.host-release` uses (they own the sshd and clean it up).
describeDeployer({
  name: 'greentic.deployer.host-release',
  create: () => createConformanceFixtures(),
  timeouts: { warmMs: 8_000, failMs: 2_000, drainMs: 8_000, driftMs: 5_000 },
});
