import { afterAll, beforeAll, describe, it } from 'vitest';
import { type ConformanceOptions, type DeployerFixtures, resolveTimeouts } from './fixtures';
import { checkBudgetMs, runCheck, selectChecks } from './runner';

/**
 * Register the conformance suite in the caller's vitest run: one `describe` named after the pack, one test per
 * check, fixtures created once before the first check and cleaned up after the last.
 *
 * @example
 * // packages/deployer-acme/test/conformance.test.ts
 * import { describeDeployer } from '@greentic/conformance/vitest';
 * import { createAcmeFixtures } from './fixtures';
 *
 * describeDeployer({ name: 'greentic.deployer.acme', create: () => createAcmeFixtures() });
 */
export function describeDeployer(options: ConformanceOptions): void {
  const timeouts = resolveTimeouts(options.timeouts);
  const checks = selectChecks(options.only);
  describe(`conformance: ${options.name}`, () => {
    let fixtures: DeployerFixtures | undefined;
    beforeAll(async () => {
      fixtures = await options.create();
    }, 60_000);
    afterAll(async () => {
      if (!fixtures) return;
      try {
        await fixtures.cleanup();
      } finally {
        await fixtures.pack.close?.();
      }
    }, 60_000);
    for (const check of checks) {
      it(
        `${check.id}: ${check.title}`,
        async () => {
          if (!fixtures) throw new Error('[conformance] fixtures were not created (see the beforeAll error)');
          const result = await runCheck(check, fixtures, timeouts);
          if (!result.passed) throw new Error(`[conformance ${options.name}] ${check.id}: ${result.error}`);
        },
        checkBudgetMs(timeouts) + 5_000,
      );
    }
  });
}
