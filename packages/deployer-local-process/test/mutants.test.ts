import { type ConformanceTimeouts, MUTANTS, runMutants } from '@greentic/conformance';
import { afterAll, describe, expect, it } from 'vitest';
import { createConformanceFixtures, type LocalProcessFixtures } from '../src/index';
import { isOurs } from '../src/processes';

// The suite proves itself: each shipped mutant wraps the real local-process deployer and breaks one promise;
// the suite must fail it, and the check that catches it is printed and must be the one meant for it.
const made: LocalProcessFixtures[] = [];
const timeouts: ConformanceTimeouts = {
  failMs: 1_000,
  settleSlackMs: 4_000,
  drainMs: 5_000,
  inFlightMs: 1_000,
  driftMs: 2_000,
};

describe('conformance mutants against greentic.deployer.local-process', () => {
  for (const mutant of MUTANTS) {
    it(`catches ${mutant.id} (${mutant.breaks})`, async () => {
      const [result] = await runMutants({
        name: 'greentic.deployer.local-process',
        mutants: [mutant],
        timeouts,
        create: () => {
          const f = createConformanceFixtures();
          made.push(f);
          return f;
        },
      });
      const caught = result!.report.checks.find((c) => !c.passed);
      console.log(
        `mutant ${mutant.id}: ${caught ? `caught by ${caught.id} — ${caught.error?.split('\n')[0]}` : 'NOT CAUGHT'}`,
      );
      expect(result!.caught).toBe(true);
      expect(result!.caughtBy).toEqual([mutant.caughtBy]);
    });
  }

  afterAll(() => {
    const alive = made.flatMap((f) => f.spawnedWorkers()).filter((w) => isOurs(w));
    for (const w of alive) process.kill(w.pid, 'SIGKILL');
    expect(
      alive.map((w) => w.pid),
      'worker processes left running after the mutant runs',
    ).toEqual([]);
  });
});
