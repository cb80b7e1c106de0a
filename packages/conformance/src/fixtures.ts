import type { RuntimeConfig } from '@greentic/deploy-spec';
import type { CredentialInput, DeployerPack, PackContext, RevisionTarget } from '@greentic/env-pack';

/** The stable names of the checks; reports, mutants and `only` use them. */
export const CHECK_IDS = [
  'credentials-verify',
  'archive-refused-with-weight',
  'idempotent-lifecycle',
  'routing-ready-only',
  'status-drift',
  'drain-in-flight',
  'failing-health',
  'isolation',
] as const;
export type CheckId = (typeof CHECK_IDS)[number];

/**
 * What a deployer author hands the suite: the pack, where it runs, and how to make targets and break things.
 * Targets come back `staged` with weight 0; the suite sets states and weights itself.
 */
export interface DeployerFixtures {
  /** The deployer under test. */
  readonly pack: DeployerPack;
  /** The environment and state folder it acts in (use a fresh temporary one). */
  readonly ctx: PackContext;
  /** A revision whose worker passes its health gate. Distinct (deployment, revision) pairs must not share anything. */
  healthyTarget(deployment: string, tenant: string, revisionId: string): RevisionTarget;
  /** A revision whose worker starts but never passes its health gate. */
  failingTarget(deployment: string, tenant: string, revisionId: string): RevisionTarget;
  /** Out-of-band changes, behind the deployer's back (not through the pack). */
  readonly tamper: {
    /** Kill the warmed worker of `target` and resolve once it is gone. */
    killWorker(target: RevisionTarget): Promise<void>;
    /** Make the warmed worker of `target` serve something else (another bundle digest), and resolve once it does. */
    changeWorker(target: RevisionTarget): Promise<void>;
  };
  /** Credentials for `credentials.verify`: one lacking a required right, one holding a right too many. */
  readonly credentials: {
    readonly missing: CredentialInput;
    readonly extra: CredentialInput;
    /** Optional: one holding exactly the requirements (must verify ok). */
    readonly exact?: CredentialInput;
  };
  /**
   * Optional: one request to a warmed revision that stays in flight for about `ms`, resolving with its answer.
   * Default: `GET <endpoint>/slow?ms=<ms>` (the hello-worker convention).
   */
  inFlightRequest?(endpoint: string, ms: number): Promise<{ readonly status: number; readonly body: string }>;
  /** Optional: the runtime config the router currently reads (as published). Enables the published-routes checks. */
  publishedRoutes?(): Promise<RuntimeConfig | undefined>;
  /** Remove everything the fixtures created (workers, folders). Called once, after the last check. */
  cleanup(): Promise<void>;
}

/** Time budgets of the suite, in milliseconds. */
export interface ConformanceTimeouts {
  /** Budget handed to `warm` for a healthy revision (default 15000). */
  readonly warmMs?: number;
  /** Budget handed to `warm` for a failing revision; it must settle within this plus `settleSlackMs` (default 2000). */
  readonly failMs?: number;
  /** Extra time a failing warm may take to stop its worker and throw (default 8000). */
  readonly settleSlackMs?: number;
  /** Budget handed to `drain` (default 10000). */
  readonly drainMs?: number;
  /** How long the in-flight request of the drain check lasts (default 1500). */
  readonly inFlightMs?: number;
  /** How long status may take to reflect an out-of-band change (default 5000). */
  readonly driftMs?: number;
}

/** Options shared by `describeDeployer` and `runConformance`. */
export interface ConformanceOptions {
  /** Name shown in test titles and reports, usually the pack id. */
  readonly name: string;
  /** Build fresh fixtures (called once per suite run). */
  create(): Promise<DeployerFixtures> | DeployerFixtures;
  /** Run only these checks (default: all, in CHECK_IDS order). */
  readonly only?: readonly CheckId[];
  readonly timeouts?: ConformanceTimeouts;
}

export interface ResolvedTimeouts {
  readonly warmMs: number;
  readonly failMs: number;
  readonly settleSlackMs: number;
  readonly drainMs: number;
  readonly inFlightMs: number;
  readonly driftMs: number;
}

export function resolveTimeouts(t: ConformanceTimeouts = {}): ResolvedTimeouts {
  return {
    warmMs: t.warmMs ?? 15_000,
    failMs: t.failMs ?? 2_000,
    settleSlackMs: t.settleSlackMs ?? 8_000,
    drainMs: t.drainMs ?? 10_000,
    inFlightMs: t.inFlightMs ?? 1_500,
    driftMs: t.driftMs ?? 5_000,
  };
}
