// @greentic/conformance: the suite every deployer env-pack must pass, its programmatic runner, and the
// deliberately broken deployers that prove the suite catches what it claims to. `describeDeployer` (vitest)
// lives in the `@greentic/conformance/vitest` subpath so the CLI can run the suite without vitest installed.

export type { Check } from './checks';
export { at, CHECKS, ConformanceFailure } from './checks';
export type {
  CheckId,
  ConformanceOptions,
  ConformanceTimeouts,
  DeployerFixtures,
  ResolvedTimeouts,
} from './fixtures';
export { CHECK_IDS, resolveTimeouts } from './fixtures';
export type { Mutant, MutantResult } from './mutants';
export { MUTANTS, runMutants } from './mutants';
export type { CheckResult, ConformanceReport, RunConformanceOptions } from './runner';
export { formatReport, runCheck, runConformance, selectChecks } from './runner';
