import { describe, expect, it } from 'vitest';
import { CHECK_IDS, type CheckId, formatReport, MUTANTS, runConformance, selectChecks } from '../src/index';
import { createFixtures } from './example/in-process-fixtures';

describe('runConformance', () => {
  it('runs the selected checks without vitest and reports each by name', async () => {
    const seen: string[] = [];
    let cleaned = false;
    const report = await runConformance({
      name: 'example.deployer.in-process',
      only: ['credentials-verify', 'archive-refused-with-weight'],
      create: () => {
        const f = createFixtures();
        return {
          ...f,
          cleanup: async () => {
            cleaned = true;
          },
        };
      },
      onResult: (r) => seen.push(`${r.id}:${r.passed}`),
    });
    expect(report.passed).toBe(true);
    expect(seen).toEqual(['credentials-verify:true', 'archive-refused-with-weight:true']);
    expect(cleaned).toBe(true);
    expect(formatReport(report)).toMatch(
      /^example\.deployer\.in-process: conforms in \d+ ms\npass {2}credentials-verify \(\d+ ms\)\npass {2}archive-refused-with-weight/,
    );
  });

  it('reports a failing check with its reason, and bail stops the run there', async () => {
    const mutant = MUTANTS.find((m) => m.id === 'credentials-ignore-extra')!;
    const report = await runConformance({
      name: 'broken',
      bail: true,
      create: () => {
        const f = createFixtures();
        return { ...f, pack: mutant.wrap(f.pack) };
      },
    });
    expect(report.passed).toBe(false);
    expect(report.failed).toEqual(['credentials-verify']);
    expect(report.checks).toHaveLength(1);
    expect(formatReport(report)).toContain('broken: does not conform (credentials-verify)');
    expect(formatReport(report)).toContain('verify accepted a credential that holds more than the requirements');
  });

  it('refuses an unknown check id, naming the known ones', () => {
    expect(() => selectChecks(['no-such-check' as CheckId])).toThrow(
      `[conformance] unknown check(s) no-such-check; known: ${CHECK_IDS.join(', ')}`,
    );
    expect(selectChecks().map((c) => c.id)).toEqual([...CHECK_IDS]);
  });
});
