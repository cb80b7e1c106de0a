import type {
  Bundle,
  Deployment,
  Environment,
  HealthResult,
  Permission,
  Revision,
  RevisionState,
  RulesPack,
  RuntimeConfig,
  Slot,
} from '@greentic/deploy-spec';

// The plug-in contract, one interface per slot. One line per method; optional members are optional
// capabilities. Every operation is idempotent: running it twice changes nothing the second time.
// Every failure is an EnvPackError (errors.ts); every wait has a timeout.

/** What a pack is told about where it runs. */
export interface PackContext {
  /** The environment, as the store holds it. */
  readonly environment: Environment;
  /** A folder this pack may own for this environment (logs, pid files, rendered files). */
  readonly stateDir: string;
  /** Resolves `secret://` references through the environment's secrets pack, when one is attached. */
  readonly secrets?: SecretResolver;
  /** Where progress lines go (never secrets). */
  readonly log?: (line: string) => void;
  /** Cancels long waits. */
  readonly signal?: AbortSignal;
}

export interface SecretResolver {
  /** The value behind a `secret://` reference; throws `not-found` naming the reference when it is missing. */
  resolve(ref: string): Promise<string>;
}

/** Everything a pack must know about one revision it acts on. */
export interface RevisionTarget {
  readonly deployment: Deployment;
  readonly revision: Revision;
  readonly bundle: Bundle;
  /** Basis points of traffic the revision holds right now (drain/archive must refuse when > 0). */
  readonly weight: number;
}

/** Desired state of an environment: every deployment's revisions (with the store's states) and weights. */
export interface DesiredState {
  readonly environment: Environment;
  readonly targets: readonly RevisionTarget[];
}

/** What the live system says about one revision, re-derived, never copied from the store. */
export type LivePhase = 'absent' | 'starting' | 'running' | 'unhealthy' | 'draining' | 'stopped';
export interface LiveRevision {
  readonly deployment: string;
  readonly tenant: string;
  readonly revision: string;
  readonly phase: LivePhase;
  /** Base URL the router sends requests to, when it is serving. */
  readonly endpoint?: string;
  /** Digest of the bundle the live worker reports it runs (to catch a worker changed behind our back). */
  readonly bundleDigest?: string;
  readonly detail?: string;
}
export interface LiveStatus {
  readonly environment: string;
  readonly observedAt: string;
  readonly revisions: readonly LiveRevision[];
}

/** One difference between what the store believes and what runs. */
export interface Drift {
  readonly deployment: string;
  readonly revision: string;
  readonly expected: RevisionState;
  readonly observed: LivePhase;
  readonly message: string;
}

/** A step `plan` proposes; `apply`/`warm`/`drain`/`archive` carry it out. */
export type PlanAction =
  | { readonly kind: 'create'; readonly deployment: string; readonly revision: string; readonly reason: string }
  | { readonly kind: 'warm'; readonly deployment: string; readonly revision: string; readonly reason: string }
  | { readonly kind: 'restart'; readonly deployment: string; readonly revision: string; readonly reason: string }
  | { readonly kind: 'drain'; readonly deployment: string; readonly revision: string; readonly reason: string }
  | { readonly kind: 'remove'; readonly deployment: string; readonly revision: string; readonly reason: string }
  | { readonly kind: 'route'; readonly reason: string };

export interface PreflightCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly message: string;
  /** What to do when it failed: "install kubectl with `apt-get install kubectl`". */
  readonly fix?: string;
}
export interface PreflightReport {
  readonly ok: boolean;
  readonly checks: readonly PreflightCheck[];
}

/** Outcome of credentials verify (mode A): both directions of "exactly the needed rights". */
export interface CredentialsVerification {
  readonly ok: boolean;
  readonly subject?: string;
  readonly missing: readonly Permission[];
  readonly extra: readonly Permission[];
}

/** Credentials handed to verify/bootstrap. Values are used, never stored or logged. */
export interface CredentialInput {
  /** A `secret://` reference or an in-memory value; packs must not persist `value`. */
  readonly ref?: string;
  readonly value?: string;
  /** Provider-specific, non-secret parameters (context name, account id, …). */
  readonly params?: Readonly<Record<string, string>>;
}

export interface CredentialsApi {
  /** The minimal permissions this deployer needs in `ctx.environment`. */
  requirements(ctx: PackContext): readonly Permission[];
  /** Mode A: check a minimal key holds exactly `requirements` (report missing and extra). */
  verify(ctx: PackContext, credential: CredentialInput): Promise<CredentialsVerification>;
  /** Mode B: use a master key once to derive the minimal set; returns the reviewable rules pack. Never stores it. */
  bootstrap(ctx: PackContext, master: CredentialInput): Promise<RulesPack>;
}

export interface WarmResult {
  readonly endpoint: string;
  readonly health: HealthResult;
}

export interface WaitBudget {
  /** Give up (and fail typed) after this many milliseconds. */
  readonly timeoutMs: number;
}

export interface RenderedFile {
  /** Relative path inside the output folder. */
  readonly path: string;
  readonly content: string;
}

export interface DeployerCapabilities {
  /** Has a declarative form (`render`), e.g. Kubernetes manifests. */
  readonly render: boolean;
  /** Drain waits for in-flight requests before stopping a worker. */
  readonly drainsInFlight: boolean;
  /** Credentials modes it supports. */
  readonly credentialsModes: readonly ('A' | 'B')[];
  /** Free text for `gtc op env-packs list`. */
  readonly summary: string;
}

/**
 * A deployer env-pack: turns revisions into running workers and tells the truth about them.
 *
 * Lifecycle mapping: `apply` materialises a staged revision (nothing serves yet); `warm` starts it and waits for the
 * health gate (ready) or the timeout (failed, throws `unhealthy`/`timeout`); `drain` stops new sessions and waits
 * for in-flight work, then stops it; `archive` removes what is left. `publishRoutes` hands the router its config.
 */
export interface DeployerPack {
  readonly id: string;
  readonly slot: 'deployer';
  readonly capabilities: DeployerCapabilities;
  /** Tools, auth and reachability, with honest "install X with Y" messages. */
  preflight(ctx: PackContext): Promise<PreflightReport>;
  readonly credentials: CredentialsApi;
  /** Pure: desired vs live → the steps that would converge them (dry runs, `--check`). */
  plan(desired: DesiredState, live: LiveStatus): PlanAction[];
  /** Materialise a revision without serving traffic. Idempotent. */
  apply(ctx: PackContext, target: RevisionTarget): Promise<void>;
  /** Start the revision and wait for its health gate; resolves with the endpoint and the passed health result. */
  warm(ctx: PackContext, target: RevisionTarget, budget: WaitBudget): Promise<WarmResult>;
  /** Stop new work, let in-flight work finish, then stop the worker. Refuses (`refused`) while weight > 0. */
  drain(ctx: PackContext, target: RevisionTarget, budget: WaitBudget): Promise<void>;
  /** Remove everything left of the revision. Refuses (`refused`) while weight > 0. */
  archive(ctx: PackContext, target: RevisionTarget): Promise<void>;
  /** The live truth for the environment (optionally one deployment), read from the running system. */
  status(ctx: PackContext, scope?: { readonly deployment?: string }): Promise<LiveStatus>;
  /** Pure: the router's runtime config for the desired state and the live endpoints. */
  runtimeConfig(desired: DesiredState, live: LiveStatus, generation: number): RuntimeConfig;
  /** Hand the router its runtime config (a file, a ConfigMap, …). Idempotent. */
  publishRoutes(ctx: PackContext, config: RuntimeConfig): Promise<void>;
  /** Declarative files for the environment, where the provider has such a form. */
  render?(ctx: PackContext, desired: DesiredState): Promise<RenderedFile[]>;
  /** Release anything the pack holds open in this process (connections, timers). */
  close?(): Promise<void>;
}

/** A secrets env-pack: values live here, only `secret://` references live in the store. */
export interface SecretsPack extends SecretResolverFactory {
  readonly id: string;
  readonly slot: 'secrets';
  /** Store a value under a reference. Never logs the value. */
  set(ctx: PackContext, ref: string, value: string): Promise<void>;
  /** The references it holds (never values). */
  list(ctx: PackContext): Promise<string[]>;
  /** Remove a value; removing an absent one is not an error. */
  delete(ctx: PackContext, ref: string): Promise<void>;
}
export interface SecretResolverFactory {
  /** A resolver for `secret://` references of this environment. */
  resolver(ctx: PackContext): SecretResolver;
}

/** A telemetry env-pack: where rollout events and metrics go. */
export interface TelemetryPack {
  readonly id: string;
  readonly slot: 'telemetry';
  /** Record one rollout event (no secrets). */
  emit(
    ctx: PackContext,
    event: { readonly name: string; readonly attributes: Readonly<Record<string, string | number | boolean>> },
  ): Promise<void>;
}

/** A sessions env-pack: where session pins live (in-memory, Redis, …). */
export interface SessionsPack {
  readonly id: string;
  readonly slot: 'sessions';
  /** Connection settings the router uses for its pin store. */
  pinStore(ctx: PackContext): { readonly kind: string; readonly url?: string; readonly ttlSeconds: number };
}

/** A state env-pack: where workers keep their durable state. */
export interface StatePack {
  readonly id: string;
  readonly slot: 'state';
  /** Settings handed to workers as environment variables (no secret values). */
  workerEnv(ctx: PackContext, target: RevisionTarget): Readonly<Record<string, string>>;
}

export type AnyPack = DeployerPack | SecretsPack | TelemetryPack | SessionsPack | StatePack;
export type PackOfSlot<S extends Slot> = Extract<AnyPack, { slot: S }>;

/** What a package exports for each pack it declares: a factory taking the pack's config. */
export type PackFactory<P extends AnyPack = AnyPack> = (options: PackFactoryOptions) => P | Promise<P>;
export interface PackFactoryOptions {
  /** The pack's non-secret config from the environment slot (`slots.deployer.config`). */
  readonly config: Readonly<Record<string, string | number | boolean>>;
}
