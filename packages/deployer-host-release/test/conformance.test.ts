import { describeDeployer } from '@greentic/conformance/vitest';
import { afterAll, beforeAll } from 'vitest';
import { createHostFixtures } from './host-fixtures';
import { makeRepo, startTestHost, type TestHost } from './ssh-host';

// Every check of the conformance suite runs against the host-release pack over a real sshd. The sshd starts
// before the suite creates its fixtures and stops after the suite's own afterAll cleaned them up.
let host: TestHost | undefined;
beforeAll(async () => {
  host = await startTestHost();
});
afterAll(async () => {
  await host?.stop();
});

describeDeployer({
  name: 'greentic.deployer.host-release',
  create: async () => {
    if (!host) throw new Error('the test sshd did not start');
    return createHostFixtures(host, makeRepo(host.dir));
  },
  timeouts: { warmMs: 8_000, failMs: 2_000, drainMs: 8_000, driftMs: 5_000 },
});
