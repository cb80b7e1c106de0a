import type {
  AuditEntry,
  Bundle,
  ConfigMap,
  Credentials,
  Deployment,
  Environment,
  HealthResult,
  PackRef,
  Permission,
  Revision,
  Slot,
  Slots,
  TrafficEntry,
  TrafficSplit,
} from '@greentic/deploy-spec';
import type { LifecycleAction } from '@greentic/revision-machine';
import type { StoredObjectName } from './errors';

// The typed verbs of the store (DESIGN.md "The store"). One contract, several transports: in-process SQL
// (@greentic/store-sql), the HTTP server and the HTTP client. Every implementation runs `describeStore`.

/**
 * A version tag: an opaque, strong tag (RFC 9110 §8.8.3) that changes whenever the object changes.
 * The SQL store writes `v<revision>-<12 hex of the content digest>`, e.g. `v7-3f2a9c01b4de`; callers must
 * treat it as opaque and compare it byte for byte. The HTTP server sends it quoted as the `ETag`.
 */
export type VersionTag = string;

/** Every read returns the object together with its version tag. */
export interface Versioned<T> {
  readonly value: T;
  readonly version: VersionTag;
}

/**
 * What every mutating verb carries.
 * - `expectedVersion` is the tag the caller read (`If-Match`). It may be absent only when the verb creates the
 *   object; updating or deleting without it is `precondition-required`; a stale one is `version-conflict`.
 * - `createOnly` (`If-None-Match: *`): refuse with `version-conflict` when the object already exists.
 * - `idempotencyKey` (`Idempotency-Key`): a retry with the same actor, key and request replays the first result.
 */
export interface MutationOptions {
  /** The acting identity, e.g. `alice@example.com` or `token:ci` (no whitespace). */
  readonly actor: string;
  readonly expectedVersion?: VersionTag | undefined;
  readonly createOnly?: boolean | undefined;
  /** 1–200 printable ASCII characters, unique per actor and request. */
  readonly idempotencyKey: string;
  /** Correlates logs, audit entries and the replay; the store generates one when absent. */
  readonly requestId?: string | undefined;
}

/**
 * What every mutating verb resolves to. JSON-serializable as a whole, so the HTTP layer can store and replay it.
 * - `version` is the new tag of the changed object, `null` when the verb deleted it.
 * - `replayed` is true when the result comes from the idempotency ledger (the verb did not run again).
 * - `requestId` is the id of the call that executed: on a replay, the first call's id.
 */
export interface MutationResult<T> {
  readonly value: T;
  readonly version: VersionTag | null;
  readonly replayed: boolean;
  readonly requestId: string;
}

/** The kinds of stored objects and the key each is named by in errors and integrity reports. */
export const OBJECT_KINDS = {
  environment: '<environment>',
  bundle: '<bundle id>@<version>',
  deployment: '<environment>/<deployment>',
  revision: '<environment>/<deployment>/<revision>',
  traffic: '<environment>/<deployment>',
  'traffic-history': '<environment>/<deployment>/<sequence, 8 digits>',
  'secret-ref': '<environment>/<name>',
  credentials: '<environment>/<pack id>',
  token: '<token id>',
} as const;
export type ObjectKind = keyof typeof OBJECT_KINDS;

/** A secret reference registered in an environment: a name and a `secret://` URI. Never a secret value. */
export interface SecretRefRecord {
  readonly environment: string;
  /** 1–128 letters, digits, `_ . -`. */
  readonly name: string;
  /** `secret://<store>/<path>`. */
  readonly ref: string;
}

/** Input to stage a revision; the store sets `state: 'staged'` and, when absent, `createdAt`. */
export type StageRevisionInput = Omit<Revision, 'state' | 'createdAt' | 'health' | 'failureReason'> & {
  readonly createdAt?: string;
};

/** Extra facts some lifecycle actions need. */
export interface TransitionOptions extends MutationOptions {
  /** `mark-ready` requires a passed health result (the health gate); it is stored on the revision. */
  readonly health?: HealthResult | undefined;
  /** `fail` may record why. */
  readonly failureReason?: string | undefined;
}

/** One split in a deployment's traffic history, oldest first. */
export interface TrafficHistoryEntry {
  readonly seq: number;
  readonly at: string;
  readonly actor: string;
  readonly requestId: string;
  readonly entries: readonly TrafficEntry[];
  /** The traffic object's version tag after this change. */
  readonly version: VersionTag;
}

/** Input to record a credentials bootstrap (mode A verified key or mode B derived set). */
export type CredentialsRecord = Credentials;

/** Input to record a rotation: the new secret reference (never the key itself). */
export interface CredentialsRotation {
  readonly secretRef: string;
  /** Defaults to now. */
  readonly rotatedAt?: string;
  readonly verifiedAt?: string;
}

/** Filters for `queryAudit`. Entries come back oldest first. */
export interface AuditQuery {
  readonly environment?: string;
  readonly actor?: string;
  /** Exact action or a prefix ending in `.` (e.g. `traffic.`). */
  readonly action?: string;
  readonly outcome?: 'applied' | 'refused';
  /** Only entries with `seq > afterSeq`. */
  readonly afterSeq?: number;
  /** At most this many (default 1000, max 10000). */
  readonly limit?: number;
}

/** A refused attempt recorded by the layer above the store (the server's 401/403). */
export interface RefusalRecord {
  readonly actor: string;
  readonly environment: string | null;
  readonly action: string;
  readonly target: string;
  readonly status: number;
  readonly code: string;
  readonly requestId: string;
  readonly detail?: string;
}

/** One problem `verifyAudit` found. `seq` is the entry at which the chain stops holding. */
export interface AuditProblem {
  readonly seq: number;
  readonly problem: 'edited' | 'removed' | 'reordered' | 'broken-link';
  readonly message: string;
}

export interface AuditHead {
  readonly seq: number;
  readonly hash: string;
}

export interface AuditVerification {
  readonly ok: boolean;
  /** Entries checked. */
  readonly entries: number;
  /** The newest entry, or `null` for an empty log. */
  readonly head: AuditHead | null;
  readonly problems: readonly AuditProblem[];
}

export const ACCESS_ROLES = ['admin', 'operator', 'read-only'] as const;
export type AccessRole = (typeof ACCESS_ROLES)[number];

/** A scoped permission: environments matching the glob pattern (`*` wildcard, e.g. `zain-*`), these actions. */
export interface AccessRule {
  readonly environments: string;
  /** Action names such as `traffic.set`, or `*`. */
  readonly actions: readonly string[];
}

/** A bearer token as stored: only the hash of the secret, never the secret. */
export interface AccessToken {
  readonly id: string;
  readonly actor: string;
  readonly roles: readonly AccessRole[];
  readonly rules: readonly AccessRule[];
  readonly createdAt: string;
  readonly revokedAt?: string;
}

export interface CreateTokenInput {
  /** The hash of the token secret (the server hashes; the store never sees the secret). */
  readonly hash: string;
  readonly actor: string;
  readonly roles: readonly AccessRole[];
  readonly rules?: readonly AccessRule[];
  /** Defaults to `tok-` plus 12 hex characters derived from the hash. */
  readonly id?: string;
}

/** What a backup wrote, also stored next to it as `<file>.manifest.json`. */
export interface BackupManifest {
  readonly format: 'greentic-store-backup/1';
  readonly file: string;
  readonly createdAt: string;
  readonly schemaVersion: number;
  /** Grows with every applied change; a restore refuses a backup older than the live store unless forced. */
  readonly generation: number;
  readonly auditHead: AuditHead | null;
  /** `<kind> <key>` → content digest, for every stored object. */
  readonly objects: Readonly<Record<string, string>>;
  /** Digest of the backup file's bytes. */
  readonly fileDigest: string;
}

export interface RestoreOptions {
  readonly actor: string;
  readonly requestId?: string;
  /** Restore even though the backup is older than the live store; recorded in the audit. */
  readonly force?: boolean;
}

export interface RestoreReport {
  readonly manifest: BackupManifest;
  readonly forced: boolean;
  /** The generation the live store had before the restore. */
  readonly replacedGeneration: number;
  /** Objects now in the store. */
  readonly objects: number;
}

export interface IntegrityReport {
  readonly ok: boolean;
  readonly objectsChecked: number;
  /** Every object whose stored digest does not match its content (or that cannot be read). */
  readonly corrupt: readonly StoredObjectName[];
  /** Findings of the database engine's own check (SQLite `quick_check`), empty when fine. */
  readonly engine: readonly string[];
  readonly audit: AuditVerification;
}

export interface RetentionPolicy {
  /** Audit: keep the newest N entries and/or those younger than N days. Opt-in: absent means keep all. */
  readonly audit?: { readonly keepEntries?: number; readonly keepDays?: number };
  /** Idempotency ledger: keep the newest N rows and/or those younger than N seconds. */
  readonly ledger?: { readonly keepEntries?: number; readonly keepSeconds?: number };
}

export interface RetentionReport {
  readonly auditTrimmed: { readonly fromSeq: number; readonly toSeq: number; readonly anchorHash: string } | null;
  readonly ledgerTrimmed: number;
}

/** Environment with its parts: `slots` and `config` live inside the environment and share its version tag. */
export interface GreenticStore {
  // environments
  /** All environments, by name. */
  listEnvironments(): Promise<Versioned<Environment>[]>;
  /** One environment; `not-found` when absent. */
  getEnvironment(name: string): Promise<Versioned<Environment>>;
  /** Create (no `expectedVersion`) or replace (with it) an environment. */
  putEnvironment(environment: Environment, options: MutationOptions): Promise<MutationResult<Environment>>;
  /** Delete an environment; `lifecycle-refused` while it still has deployments. */
  deleteEnvironment(name: string, options: MutationOptions): Promise<MutationResult<null>>;

  // slots and env-packs (expectedVersion = the environment's tag)
  /** Fill a slot with an env-pack (replacing what was there). */
  attachPack(environment: string, slot: Slot, pack: PackRef, options: MutationOptions): Promise<MutationResult<Slots>>;
  /** Empty a slot; `not-found` when it is empty. */
  detachPack(environment: string, slot: Slot, options: MutationOptions): Promise<MutationResult<Slots>>;
  /** The slots of an environment, with the environment's tag. */
  listPacks(environment: string): Promise<Versioned<Slots>>;

  // bundles (immutable once published)
  /** Publish `id@version`; `version-conflict` when that id@version exists. */
  publishBundle(bundle: Bundle, options: MutationOptions): Promise<MutationResult<Bundle>>;
  /** All bundles, or all versions of one id. */
  listBundles(filter?: { readonly id?: string }): Promise<Versioned<Bundle>[]>;
  getBundle(id: string, version: string): Promise<Versioned<Bundle>>;

  // deployments
  /** Create a deployment in an existing environment; `version-conflict` when it exists. */
  createDeployment(deployment: Deployment, options: MutationOptions): Promise<MutationResult<Deployment>>;
  getDeployment(environment: string, name: string): Promise<Versioned<Deployment>>;
  /** Deployments of one environment, or of all. */
  listDeployments(environment?: string): Promise<Versioned<Deployment>[]>;
  setBillingCustomer(
    environment: string,
    name: string,
    billingCustomer: string,
    options: MutationOptions,
  ): Promise<MutationResult<Deployment>>;

  // revisions
  /** Stage a new revision (state `staged`) of an existing deployment; `version-conflict` when the id exists. */
  stageRevision(input: StageRevisionInput, options: MutationOptions): Promise<MutationResult<Revision>>;
  getRevision(environment: string, deployment: string, id: string): Promise<Versioned<Revision>>;
  listRevisions(environment: string, deployment: string): Promise<Versioned<Revision>[]>;
  /** Apply a lifecycle action decided by revision-machine; `lifecycle-refused` carries its reason. */
  transitionRevision(
    environment: string,
    deployment: string,
    id: string,
    action: LifecycleAction,
    options: TransitionOptions,
  ): Promise<MutationResult<Revision>>;

  // traffic (at most one split per deployment)
  getTraffic(environment: string, deployment: string): Promise<Versioned<TrafficSplit>>;
  /** Set the split: basis points summing to 10000, ready revisions only. */
  setTraffic(split: TrafficSplit, options: MutationOptions): Promise<MutationResult<TrafficSplit>>;
  /** Return to the previous different split of the history; `lifecycle-refused` when there is none or it is no longer valid. */
  rollbackTraffic(
    environment: string,
    deployment: string,
    options: MutationOptions,
  ): Promise<MutationResult<TrafficSplit>>;
  /** The splits the deployment has had, oldest first. */
  trafficHistory(environment: string, deployment: string, limit?: number): Promise<TrafficHistoryEntry[]>;

  // config (part of the environment; expectedVersion = the environment's tag)
  getConfig(environment: string): Promise<Versioned<ConfigMap>>;
  /** Replace the environment's non-secret config. */
  setConfig(environment: string, config: ConfigMap, options: MutationOptions): Promise<MutationResult<ConfigMap>>;

  // secret references (references only, never values)
  putSecretRef(
    environment: string,
    name: string,
    ref: string,
    options: MutationOptions,
  ): Promise<MutationResult<SecretRefRecord>>;
  listSecretRefs(environment: string): Promise<Versioned<SecretRefRecord>[]>;
  deleteSecretRef(environment: string, name: string, options: MutationOptions): Promise<MutationResult<null>>;

  // credentials records
  /** The credentials record of a deployer pack in an environment (requirements, mode, subject, secret ref). */
  credentialRequirements(environment: string, pack: string): Promise<Versioned<Credentials>>;
  /** Record a bootstrap (create, or replace with `expectedVersion`). */
  recordBootstrap(record: CredentialsRecord, options: MutationOptions): Promise<MutationResult<Credentials>>;
  /** Record a rotation to a new secret reference. */
  rotateCredentials(
    environment: string,
    pack: string,
    rotation: CredentialsRotation,
    options: MutationOptions,
  ): Promise<MutationResult<Credentials>>;

  // audit
  queryAudit(query?: AuditQuery): Promise<AuditEntry[]>;
  /** Walk the hash chain; reports removed, reordered and edited entries. Works on a corrupt store too. */
  verifyAudit(): Promise<AuditVerification>;
  /** Record a refusal decided above the store (401/403) in the chain. */
  appendRefusal(refusal: RefusalRecord): Promise<AuditEntry>;

  // access tokens (hashes only; the server hashes and authorizes)
  createToken(input: CreateTokenInput, options: MutationOptions): Promise<MutationResult<AccessToken>>;
  listTokens(): Promise<Versioned<AccessToken>[]>;
  /** Revoke a token (it stays listed with `revokedAt`). */
  revokeToken(id: string, options: MutationOptions): Promise<MutationResult<AccessToken>>;
  /** The active (not revoked) token with this hash, or `undefined`. */
  findTokenByHash(hash: string): Promise<Versioned<AccessToken> | undefined>;

  // admin
  /** Write an online, consistent backup to `file` and its manifest to `<file>.manifest.json`. */
  backup(file: string): Promise<BackupManifest>;
  /** Verify the backup completely, then replace the live state with it atomically. */
  restore(file: string, options: RestoreOptions): Promise<RestoreReport>;
  /** Check every object's digest (and the engine's own check and the audit chain); a clean check lifts a corrupt lock. */
  verifyIntegrity(): Promise<IntegrityReport>;
  /** Trim the audit and the idempotency ledger by the policy; every trim is recorded in the audit. */
  applyRetention(
    policy: RetentionPolicy,
    options: { readonly actor: string; readonly requestId?: string },
  ): Promise<RetentionReport>;
  /** Release the database; further calls fail with `unavailable`. */
  close(): Promise<void>;
}

/** The names of every verb, for tables (HTTP routes, authorization actions). */
export const STORE_VERBS = [
  'listEnvironments',
  'getEnvironment',
  'putEnvironment',
  'deleteEnvironment',
  'attachPack',
  'detachPack',
  'listPacks',
  'publishBundle',
  'listBundles',
  'getBundle',
  'createDeployment',
  'getDeployment',
  'listDeployments',
  'setBillingCustomer',
  'stageRevision',
  'getRevision',
  'listRevisions',
  'transitionRevision',
  'getTraffic',
  'setTraffic',
  'rollbackTraffic',
  'trafficHistory',
  'getConfig',
  'setConfig',
  'putSecretRef',
  'listSecretRefs',
  'deleteSecretRef',
  'credentialRequirements',
  'recordBootstrap',
  'rotateCredentials',
  'queryAudit',
  'verifyAudit',
  'appendRefusal',
  'createToken',
  'listTokens',
  'revokeToken',
  'findTokenByHash',
  'backup',
  'restore',
  'verifyIntegrity',
  'applyRetention',
  'close',
] as const satisfies readonly (keyof GreenticStore)[];
export type StoreVerb = (typeof STORE_VERBS)[number];

/** Re-exported for implementers: the permission shape credentials records carry. */
export type { Permission };

/**
 * The audit action (and authorization action) of each mutating verb. `transitionRevision` records
 * `revision.<lifecycle action>` (e.g. `revision.drain`).
 */
export const VERB_ACTIONS = {
  putEnvironment: 'environment.put',
  deleteEnvironment: 'environment.delete',
  attachPack: 'slot.attach',
  detachPack: 'slot.detach',
  publishBundle: 'bundle.publish',
  createDeployment: 'deployment.create',
  setBillingCustomer: 'deployment.set-billing-customer',
  stageRevision: 'revision.stage',
  transitionRevision: 'revision.*',
  setTraffic: 'traffic.set',
  rollbackTraffic: 'traffic.rollback',
  setConfig: 'config.set',
  putSecretRef: 'secret-ref.put',
  deleteSecretRef: 'secret-ref.delete',
  recordBootstrap: 'credentials.bootstrap',
  rotateCredentials: 'credentials.rotate',
  createToken: 'token.create',
  revokeToken: 'token.revoke',
  restore: 'store.restore',
  applyRetention: 'store.retention',
} as const satisfies Partial<Record<StoreVerb, string>>;
