import { CHECKS, type Check } from './checks';
import {
  type CheckId,
  type ConformanceOptions,
  type DeployerFixtures,
  type ResolvedTimeouts,
  resolveTimeouts,
} from './fixtures';

/** The outcome of one check. */
export interface CheckResult {
  readonly id: CheckId;
  readonly title: string;
  readonly passed: boolean;
  /** Why it failed (absent when it passed). */
  readonly error?: string;
  readonly durationMs: number;
}

/** The outcome of a whole run. */
export interface ConformanceReport {
  readonly name: string;
  readonly passed: boolean;
  readonly checks: readonly CheckResult[];
  /** Ids of the failed checks, in run order. */
  readonly failed: readonly CheckId[];
  readonly durationMs: number;
}

export interface RunConformanceOptions extends ConformanceOptions {
  /** Stop at the first failed check (the rest are not run and not reported). */
  readonly bail?: boolean;
  /** Called after each check, e.g. to print progress. */
  readonly onResult?: (result: CheckResult) => void;
}

/** The checks selected by `only` (all by default), in suite order. Unknown ids are an error. */
export function selectChecks(only?: readonly CheckId[]): readonly Check[] {
  if (!only) return CHECKS;
  const known = new Set<string>(CHECKS.map((c) => c.id));
  const unknown = only.filter((id) => !known.has(id));
  if (unknown.length > 0) {
    throw new Error(`[conformance] unknown check(s) ${unknown.join(', ')}; known: ${[...known].join(', ')}`);
  }
  return CHECKS.filter((c) => only.includes(c.id));
}

/** The longest a single check may run before the runner calls it hung. */
export function checkBudgetMs(t: ResolvedTimeouts): number {
  return 4 * t.warmMs + 2 * t.drainMs + t.failMs + t.settleSlackMs + t.inFlightMs + 2 * t.driftMs + 30_000;
}

/** Run one check against fixtures; resolves with its result, never throws, never hangs past its budget. */
export async function runCheck(check: Check, f: DeployerFixtures, t: ResolvedTimeouts): Promise<CheckResult> {
  const started = Date.now();
  const budget = checkBudgetMs(t);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check.run(f, t),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`check did not finish within ${budget} ms (a hang)`)), budget);
      }),
    ]);
    return { id: check.id, title: check.title, passed: true, durationMs: Date.now() - started };
  } catch (e) {
    const error = e instanceof Error ? e.message : String(e);
    return { id: check.id, title: check.title, passed: false, error, durationMs: Date.now() - started };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Run the conformance suite without a test framework (the CLI's `gtc op env-packs conformance <id>` uses this).
 * Fixtures are created once, the checks run in order, and the fixtures are cleaned up whatever happens.
 *
 * @example
 * const report = await runConformance({ name: 'greentic.deployer.local-process', create: () => createConformanceFixtures() });
 * for (const c of report.checks) console.log(`${c.passed ? 'ok  ' : 'FAIL'} ${c.id}${c.error ? `: ${c.error}` : ''}`);
 * process.exitCode = report.passed ? 0 : 1;
 */
export async function runConformance(options: RunConformanceOptions): Promise<ConformanceReport> {
  const started = Date.now();
  const timeouts = resolveTimeouts(options.timeouts);
  const checks = selectChecks(options.only);
  const results: CheckResult[] = [];
  const fixtures = await options.create();
  try {
    for (const check of checks) {
      const result = await runCheck(check, fixtures, timeouts);
      results.push(result);
      options.onResult?.(result);
      if (!result.passed && options.bail) break;
    }
  } finally {
    await fixtures.cleanup();
    await fixtures.pack.close?.();
  }
  const failed = results.filter((r) => !r.passed).map((r) => r.id);
  return { name: options.name, passed: failed.length === 0, checks: results, failed, durationMs: Date.now() - started };
}

/** A report as text, one line per check. @example console.log(formatReport(await runConformance(opts))) */
export function formatReport(report: ConformanceReport): string {
  const lines = report.checks.map(
    (c) =>
      `${c.passed ? 'pass' : 'FAIL'}  ${c.id} (${c.durationMs} ms)${c.error ? `\n      ${c.error.replaceAll('\n', '\n      ')}` : ''}`,
  );
  const verdict = report.passed ? 'conforms' : `does not conform (${report.failed.join(', ')})`;
  return `${report.name}: ${verdict} in ${report.durationMs} ms\n${lines.join('\n')}`;
}
