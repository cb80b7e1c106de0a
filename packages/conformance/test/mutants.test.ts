import { describe, expect, it } from 'vitest';
import { CHECK_IDS, MUTANTS, runMutants } from '../src/index';
import { createFixtures } from './example/in-process-fixtures';

// The suite proves itself on the README's example deployer: every shipped mutant of it must fail the suite,
// caught by the check meant for it. (The same proof runs against local-process in its own package.)
describe('conformance mutants', () => {
  it('ships at least six mutants, each aimed at a real check', () => {
    expect(MUTANTS.length).toBeGreaterThanOrEqual(6);
    for (const m of MUTANTS) expect(CHECK_IDS).toContain(m.caughtBy);
    expect(new Set(MUTANTS.map((m) => m.caughtBy)).size).toBe(MUTANTS.length);
  });

  for (const mutant of MUTANTS) {
    it(`fails ${mutant.id} (${mutant.breaks})`, async () => {
      const [result] = await runMutants({
        name: 'example.deployer.in-process',
        mutants: [mutant],
        create: createFixtures,
        timeouts: { failMs: 500, settleSlackMs: 2_000, driftMs: 1_000, inFlightMs: 600 },
      });
      const first = result!.report.checks.find((c) => !c.passed);
      console.log(`mutant ${mutant.id}: ${first ? `caught by ${first.id} — ${first.error}` : 'NOT CAUGHT'}`);
      expect(result!.caughtBy).toEqual([mutant.caughtBy]);
    });
  }
});
