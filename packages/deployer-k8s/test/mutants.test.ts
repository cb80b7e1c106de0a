import { MUTANTS, runMutants } from '@greentic/conformance';
import { describe, expect, it } from 'vitest';
import { createK8sFixtures } from './k8s-fixtures';

// The suite bites on this deployer too: each shipped mutant of the k8s deployer, run against the fake API server,
// fails the check meant to catch it.
describe('conformance mutants of greentic.deployer.k8s', () => {
  for (const mutant of MUTANTS) {
    it(`${mutant.id} is caught by ${mutant.caughtBy}`, async () => {
      const [result] = await runMutants({
        name: 'greentic.deployer.k8s',
        create: () => createK8sFixtures(),
        mutants: [mutant],
        only: [mutant.caughtBy],
        timeouts: { warmMs: 5_000, failMs: 1_000, settleSlackMs: 3_000, drainMs: 8_000, driftMs: 2_000 },
      });
      expect(result?.caught).toBe(true);
      expect(result?.caughtBy).toEqual([mutant.caughtBy]);
    }, 60_000);
  }
});
