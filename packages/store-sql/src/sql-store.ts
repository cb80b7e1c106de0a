import { randomUUID } from 'node:crypto';
import {
  type AuditEntry,
  type Bundle,
  bytesDigest,
  type ConfigMap,
  type Credentials,
  canonicalJson,
  type Deployment,
  type Environment,
  formatErrors,
  isDnsLabel,
  type PackRef,
  type Revision,
  type SchemaName,
  SECRET_REF_PATTERN,
  SLOTS,
  type Slot,
  type Slots,
  type TrafficEntry,
  type TrafficSplit,
  type ValidationError,
  validate,
} from '@greentic/deploy-spec';
import {
  checkSplit,
  decideTransition,
  LIFECYCLE_ACTIONS,
  type LifecycleAction,
  previousSplit,
  weightOf,
} from '@greentic/revision-machine';
import {
  ACCESS_ROLES,
  type AccessToken,
  type AuditQuery,
  type AuditVerification,
  type BackupManifest,
  type CreateTokenInput,
  type CredentialsRecord,
  type CredentialsRotation,
  type GreenticStore,
  type IntegrityReport,
  isStoreError,
  type MutationOptions,
  type MutationResult,
  type ObjectKind,
  type RefusalRecord,
  type RestoreOptions,
  type RestoreReport,
  type RetentionPolicy,
  type RetentionReport,
  type SecretRefRecord,
  STORE_ERROR_HTTP_STATUS,
  type StageRevisionInput,
  type StoredObjectName,
  StoreError,
  type StoreErrorCode,
  type TrafficHistoryEntry,
  type TransitionOptions,
  type Versioned,
} from '@greentic/store-contract';
import { chainEntry, GENESIS_HASH, type StoredAuditRow, type UnchainedEntry, verifyChain } from './audit-chain';
import { type BackupDocument, readBackup, writeBackup } from './backup-file';
import { canonicalText, plainCanonicalJson, textDigest } from './digest';
import { BACKUP_COMPATIBLE_SINCE, type StoreState } from './migrations';
import type { SqlDriver, SqlQueryable, SqlRow, SqlSyncQueryable } from './sql-driver';

/** Bounds of the idempotency ledger, applied automatically every `trimEvery` changes. */
export interface LedgerBounds {
  /** Keep at most this many rows (default 10000). */
  readonly maxEntries?: number;
  /** Forget rows older than this (default 86400 s = 24 h). */
  readonly maxAgeSeconds?: number;
  /** Check the bounds every N applied changes (default 128). */
  readonly trimEvery?: number;
}

export interface SqlStoreConfig {
  /** How messages name this store, e.g. the SQLite file or `postgres schema x`. */
  readonly label: string;
  readonly schemaVersion: number;
  readonly ledger?: LedgerBounds;
  /** The database engine's own consistency check (SQLite `quick_check`); findings, empty when fine. */
  readonly engineCheck?: () => Promise<string[]>;
  /** Called after the driver closed (e.g. end the pool). */
  readonly onClose?: () => Promise<void>;
}

/** A stored row whose digest was checked when it was read. */
interface VerifiedRow {
  readonly key: string;
  readonly text: string;
  /** `JSON.stringify` of the parsed value (for whole objects). */
  readonly json?: string;
  readonly version: string;
  readonly digest: string;
}

/** An object's text and the digest the store computed for it as it wrote it. */
interface WrittenRow {
  readonly text: string;
  readonly digest: string;
}

/** The JSON text of objects handed out from {@link SqlStore}'s verified rows (see {@link storedJson}). */
const jsonTexts = new WeakMap<object, string>();

/**
 * `JSON.stringify(versioned.value)`, already made, when `versioned` came straight from a SQL store's read of a
 * whole object (environment, deployment, revision); undefined for anything else, or once its value was replaced.
 * Lets an HTTP server answer without parsing and serializing the object again.
 *
 * @example
 * const env = await store.getEnvironment('prod');
 * const body = storedJson(env) ?? JSON.stringify(env.value);
 */
export function storedJson(versioned: object): string | undefined {
  return jsonTexts.get(versioned);
}

/** Most rows {@link SqlStore} keeps verified between writes (then it starts over). */
const VERIFIED_ROWS = 4096;

interface Loaded<T> {
  readonly value: T;
  readonly version: string;
  readonly digest: string;
}

interface Ctx {
  readonly gen: number;
  readonly now: string;
  readonly actor: string;
  readonly requestId: string;
}

interface Change<T> {
  readonly value: T;
  readonly version: string | null;
  readonly before: string | null;
  readonly after: string | null;
  readonly detail?: string;
}

interface Target {
  readonly action: string;
  readonly environment: string | null;
  readonly target: string;
}

type Outcome<T> =
  | { readonly kind: 'done'; readonly result: MutationResult<T> }
  | { readonly kind: 'refused'; readonly error: StoreError };

/** Refusals the store records in the audit before it reports them (DESIGN.md "The store" ④). */
const AUDITED = new Set<StoreErrorCode>([
  'not-found',
  'version-conflict',
  'precondition-required',
  'invalid',
  'forbidden',
  'lifecycle-refused',
  'idempotency-key-reused',
]);

const ACTOR = /^[^\s]{1,256}$/;
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;
const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;
const NAME = /^[A-Za-z0-9_.-]{1,128}$/;
const SECRET_REF = new RegExp(SECRET_REF_PATTERN);
const ACTION = /^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)*$/;
const ENV_PATTERN = /^[a-z0-9*-]{1,253}$/;
const ACTION_PATTERN = /^(\*|[a-z][a-z0-9-]*(\.([a-z][a-z0-9-]*|\*))*)$/;

const SELECT_OBJECT = 'SELECT value, digest, version FROM objects WHERE kind = ? AND key = ?';
const SELECT_CHILDREN = 'SELECT key, value, digest, version FROM objects WHERE kind = ? AND parent = ?';
const SELECT_KIND = 'SELECT key, value, digest, version FROM objects WHERE kind = ?';
const UPSERT_OBJECT =
  'INSERT INTO objects (kind, key, parent, value, digest, version) VALUES (?, ?, ?, ?, ?, ?) ' +
  'ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value, digest = excluded.digest, version = excluded.version';
const DELETE_OBJECT = 'DELETE FROM objects WHERE kind = ? AND key = ?';
const INSERT_AUDIT =
  'INSERT INTO audit (seq, at, actor, environment, action, outcome, entry, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)';
const SELECT_LEDGER = 'SELECT fingerprint, request_id, result FROM ledger WHERE actor = ? AND key = ?';
const INSERT_LEDGER =
  'INSERT INTO ledger (actor, key, fingerprint, request_id, result, created_ms, gen) VALUES (?, ?, ?, ?, ?, ?, ?)';
const UPDATE_STATE = "UPDATE meta SET v = ? WHERE k = 'state'";

/**
 * The store's verbs over a SQL driver. One write transaction per verb: the pure decision (revision-machine), the
 * write, the audit entry and the idempotency ledger row commit together or not at all.
 */
export class SqlStore implements GreenticStore {
  private corruptObjects: StoredObjectName[] | null = null;
  private closed = false;
  private readonly inFlight = new Set<string>();
  private readonly selectState: string;
  private readonly ledgerBounds: Required<LedgerBounds>;
  /**
   * Rows read and verified since the last write, by kind, key (or parent) — for drivers whose connection alone
   * can change the data (SQLite under an exclusive lock). Any write through this store, a failed one included,
   * empties it before it starts and after it ends; so does {@link verifyIntegrity}.
   */
  private readonly verified: Map<string, VerifiedRow | readonly VerifiedRow[]> | undefined;
  /** Bumped around every write: a read that saw it change keeps its rows out of {@link verified}. */
  private writes = 0;
  /**
   * A lower bound of `created_ms` over every idempotency ledger row, kept for exclusive drivers so the automatic
   * trim skips the age scan (a full table scan) while no row can be old enough; undefined when unknown. Only the
   * verbs' own ledger inserts keep it (lowering it as they insert); any other write forgets it (see {@link write}).
   */
  private ledgerOldest: number | undefined;
  /**
   * Object texts this store wrote, with the digest it computed for them, by kind and key: the write path's read of
   * the same row verifies it by comparing against these (a pair this store hashed itself) instead of hashing again.
   * Whatever else changed the row since, the comparison fails and the row is hashed as usual.
   */
  private readonly written = new Map<string, WrittenRow>();

  private constructor(
    private readonly driver: SqlDriver,
    private readonly config: SqlStoreConfig,
  ) {
    this.selectState = `SELECT v FROM meta WHERE k = 'state'${driver.dialect === 'postgres' ? ' FOR UPDATE' : ''}`;
    this.ledgerBounds = {
      maxEntries: config.ledger?.maxEntries ?? 10_000,
      maxAgeSeconds: config.ledger?.maxAgeSeconds ?? 86_400,
      trimEvery: config.ledger?.trimEvery ?? 128,
    };
    this.verified = driver.exclusive === true ? new Map() : undefined;
  }

  /** Open over a migrated database and verify every stored object (a mismatch locks the store as corrupt). */
  static async open(driver: SqlDriver, config: SqlStoreConfig): Promise<SqlStore> {
    const store = new SqlStore(driver, config);
    const { corrupt } = await store.checkObjects();
    const engine = (await config.engineCheck?.()) ?? [];
    if (engine.length > 0) corrupt.push({ kind: 'database', key: `${config.label}: ${engine.join('; ')}` });
    if (corrupt.length > 0) store.corruptObjects = corrupt;
    return store;
  }

  /** The label messages use for this store. */
  get label(): string {
    return this.config.label;
  }

  /** Run raw SQL in a write transaction on the store's own connection: for tests that damage data on purpose. */
  unsafeWrite<T>(fn: (tx: SqlQueryable) => Promise<T>): Promise<T> {
    this.assertOpen();
    return this.write(fn);
  }

  // ---------------------------------------------------------------- environments

  listEnvironments(): Promise<Versioned<Environment>[]> {
    return this.read((q) => this.list<Environment>(q, 'environment'));
  }

  getEnvironment(name: string): Promise<Versioned<Environment>> {
    const hit = this.verifiedHit<Environment>('environment', name);
    if (hit !== undefined) return Promise.resolve(hit);
    return this.read(async (q) =>
      strip(await this.mustLoad<Environment>(q, 'environment', name, `environment ${name}`, true)),
    );
  }

  putEnvironment(environment: Environment, options: MutationOptions): Promise<MutationResult<Environment>> {
    const name = String((environment as { name?: unknown })?.name ?? '');
    return this.mutate(
      'putEnvironment',
      [environment],
      options,
      target('environment.put', name, name),
      async (tx, ctx) => {
        const value = valid('environment', environment, `environment ${name}`);
        const cur = await this.load<Environment>(tx, 'environment', name);
        precondition(cur, options, `environment ${name}`, 'upsert');
        return this.put(tx, ctx, 'environment', name, '', value, cur);
      },
    );
  }

  deleteEnvironment(name: string, options: MutationOptions): Promise<MutationResult<null>> {
    return this.mutate('deleteEnvironment', [name], options, target('environment.delete', name, name), async (tx) => {
      const cur = await this.mustLoad<Environment>(tx, 'environment', name, `environment ${name}`);
      precondition(cur, options, `environment ${name}`, 'update');
      const deployments = (await this.list<Deployment>(tx, 'deployment', name)).map((d) => d.value.name);
      if (deployments.length > 0) {
        throw refused(
          'has-deployments',
          `environment ${name} still has deployments (${deployments.join(', ')}); delete or move them first`,
        );
      }
      await tx.run("DELETE FROM objects WHERE parent = ? AND kind IN ('secret-ref', 'credentials')", [name]);
      await tx.run(DELETE_OBJECT, ['environment', name]);
      return { value: null, version: null, before: cur.digest, after: null };
    });
  }

  // ---------------------------------------------------------------- slots and config

  attachPack(environment: string, slot: Slot, pack: PackRef, options: MutationOptions): Promise<MutationResult<Slots>> {
    return this.mutate(
      'attachPack',
      [environment, slot, pack],
      options,
      target('slot.attach', environment, `${environment}/${slot}`),
      async (tx, ctx) => {
        checkSlot(slot);
        const cur = await this.mustLoad<Environment>(tx, 'environment', environment, `environment ${environment}`);
        precondition(cur, options, `environment ${environment}`, 'update');
        const next = valid(
          'environment',
          { ...cur.value, slots: { ...cur.value.slots, [slot]: pack } },
          `environment ${environment}`,
        );
        const c = await this.put(tx, ctx, 'environment', environment, '', next, cur);
        return { ...c, value: c.value.slots };
      },
    );
  }

  detachPack(environment: string, slot: Slot, options: MutationOptions): Promise<MutationResult<Slots>> {
    return this.mutate(
      'detachPack',
      [environment, slot],
      options,
      target('slot.detach', environment, `${environment}/${slot}`),
      async (tx, ctx) => {
        checkSlot(slot);
        const cur = await this.mustLoad<Environment>(tx, 'environment', environment, `environment ${environment}`);
        precondition(cur, options, `environment ${environment}`, 'update');
        if (!cur.value.slots[slot]) {
          throw new StoreError('not-found', `slot ${slot} of environment ${environment} is empty; nothing to detach`);
        }
        const slots: Slots = { ...cur.value.slots };
        delete slots[slot];
        const c = await this.put(tx, ctx, 'environment', environment, '', { ...cur.value, slots }, cur);
        return { ...c, value: c.value.slots };
      },
    );
  }

  listPacks(environment: string): Promise<Versioned<Slots>> {
    return this.read(async (q) => {
      const env = await this.mustLoad<Environment>(q, 'environment', environment, `environment ${environment}`);
      return { value: env.value.slots, version: env.version };
    });
  }

  getConfig(environment: string): Promise<Versioned<ConfigMap>> {
    return this.read(async (q) => {
      const env = await this.mustLoad<Environment>(q, 'environment', environment, `environment ${environment}`, true);
      return { value: env.value.config, version: env.version };
    });
  }

  setConfig(environment: string, config: ConfigMap, options: MutationOptions): Promise<MutationResult<ConfigMap>> {
    return this.mutate(
      'setConfig',
      [environment, config],
      options,
      target('config.set', environment, environment),
      async (tx, ctx) => {
        const cur = await this.mustLoad<Environment>(tx, 'environment', environment, `environment ${environment}`);
        precondition(cur, options, `environment ${environment}`, 'update');
        const next = valid('environment', { ...cur.value, config }, `config of environment ${environment}`);
        const c = await this.put(tx, ctx, 'environment', environment, '', next, cur);
        return { ...c, value: c.value.config };
      },
    );
  }

  // ---------------------------------------------------------------- bundles

  publishBundle(bundle: Bundle, options: MutationOptions): Promise<MutationResult<Bundle>> {
    const key = `${String(bundle?.id)}@${String(bundle?.version)}`;
    return this.mutate('publishBundle', [bundle], options, target('bundle.publish', null, key), async (tx, ctx) => {
      const value = valid('bundle', bundle, `bundle ${key}`);
      const cur = await this.load<Bundle>(tx, 'bundle', key);
      precondition(cur, options, `bundle ${key}`, 'create');
      return this.put(tx, ctx, 'bundle', key, value.id, value, cur);
    });
  }

  listBundles(filter: { readonly id?: string } = {}): Promise<Versioned<Bundle>[]> {
    return this.read((q) => this.list<Bundle>(q, 'bundle', filter.id));
  }

  getBundle(id: string, version: string): Promise<Versioned<Bundle>> {
    return this.read(async (q) =>
      strip(await this.mustLoad<Bundle>(q, 'bundle', `${id}@${version}`, `bundle ${id}@${version}`)),
    );
  }

  // ---------------------------------------------------------------- deployments

  createDeployment(deployment: Deployment, options: MutationOptions): Promise<MutationResult<Deployment>> {
    const env = String(deployment?.environment ?? '');
    const key = `${env}/${String(deployment?.name ?? '')}`;
    return this.mutate(
      'createDeployment',
      [deployment],
      options,
      target('deployment.create', env, key),
      async (tx, ctx) => {
        const value = valid('deployment', deployment, `deployment ${key}`);
        await this.mustLoad(tx, 'environment', env, `environment ${env}`);
        const cur = await this.load<Deployment>(tx, 'deployment', key);
        precondition(cur, options, `deployment ${key}`, 'create');
        return this.put(tx, ctx, 'deployment', key, env, value, cur);
      },
    );
  }

  getDeployment(environment: string, name: string): Promise<Versioned<Deployment>> {
    const key = `${environment}/${name}`;
    const hit = this.verifiedHit<Deployment>('deployment', key);
    if (hit !== undefined) return Promise.resolve(hit);
    return this.read(async (q) =>
      strip(await this.mustLoad<Deployment>(q, 'deployment', key, `deployment ${key}`, true)),
    );
  }

  listDeployments(environment?: string): Promise<Versioned<Deployment>[]> {
    return this.read((q) => this.list<Deployment>(q, 'deployment', environment));
  }

  setBillingCustomer(
    environment: string,
    name: string,
    billingCustomer: string,
    options: MutationOptions,
  ): Promise<MutationResult<Deployment>> {
    const key = `${environment}/${name}`;
    return this.mutate(
      'setBillingCustomer',
      [environment, name, billingCustomer],
      options,
      target('deployment.set-billing-customer', environment, key),
      async (tx, ctx) => {
        const cur = await this.mustLoad<Deployment>(tx, 'deployment', key, `deployment ${key}`);
        precondition(cur, options, `deployment ${key}`, 'update');
        const next = valid('deployment', { ...cur.value, billingCustomer }, `deployment ${key}`);
        return this.put(tx, ctx, 'deployment', key, environment, next, cur);
      },
    );
  }

  // ---------------------------------------------------------------- revisions

  stageRevision(input: StageRevisionInput, options: MutationOptions): Promise<MutationResult<Revision>> {
    const env = String(input?.environment ?? '');
    const dep = `${env}/${String(input?.deployment ?? '')}`;
    const key = `${dep}/${String(input?.id ?? '')}`;
    return this.mutate('stageRevision', [input], options, target('revision.stage', env, key), async (tx, ctx) => {
      const { createdAt, ...rest } = input;
      const value = valid('revision', { ...rest, state: 'staged', createdAt: createdAt ?? ctx.now }, `revision ${key}`);
      await this.mustLoad(tx, 'deployment', dep, `deployment ${dep}`);
      const cur = await this.load<Revision>(tx, 'revision', key);
      precondition(cur, options, `revision ${key}`, 'create');
      return this.put(tx, ctx, 'revision', key, dep, value, cur);
    });
  }

  getRevision(environment: string, deployment: string, id: string): Promise<Versioned<Revision>> {
    const key = `${environment}/${deployment}/${id}`;
    const hit = this.verifiedHit<Revision>('revision', key);
    if (hit !== undefined) return Promise.resolve(hit);
    return this.read(async (q) => strip(await this.mustLoad<Revision>(q, 'revision', key, `revision ${key}`, true)));
  }

  listRevisions(environment: string, deployment: string): Promise<Versioned<Revision>[]> {
    return this.read((q) => this.list<Revision>(q, 'revision', `${environment}/${deployment}`));
  }

  transitionRevision(
    environment: string,
    deployment: string,
    id: string,
    action: LifecycleAction,
    options: TransitionOptions,
  ): Promise<MutationResult<Revision>> {
    const dep = `${environment}/${deployment}`;
    const key = `${dep}/${id}`;
    const known = (LIFECYCLE_ACTIONS as string[]).includes(action);
    const extra = { health: options.health ?? null, failureReason: options.failureReason ?? null };
    return this.mutate(
      'transitionRevision',
      [environment, deployment, id, action, extra],
      options,
      target(known ? `revision.${action}` : 'revision.transition', environment, key),
      async (tx, ctx) => {
        if (!known) {
          throw invalid(`revision ${key}: unknown action "${action}"`, [
            { path: '/action', message: `must be one of ${LIFECYCLE_ACTIONS.join(', ')}` },
          ]);
        }
        const cur = await this.mustLoad<Revision>(tx, 'revision', key, `revision ${key}`);
        precondition(cur, options, `revision ${key}`, 'update');
        const split = await this.load<TrafficSplit>(tx, 'traffic', dep);
        const weight = weightOf(split?.value.entries ?? [], id);
        const decision = decideTransition(cur.value.state, action, {
          weight,
          health: options.health,
          label: `${id} of ${dep}`,
        });
        if (!decision.ok) {
          throw new StoreError('lifecycle-refused', decision.reason.message, {
            reason: { code: decision.reason.code, message: decision.reason.message, revision: id },
          });
        }
        const next: Revision = { ...cur.value, state: decision.to };
        if (action === 'mark-ready' && options.health) next.health = options.health;
        if (action === 'fail' && options.failureReason !== undefined) next.failureReason = options.failureReason;
        const checked = valid('revision', next, `revision ${key}`);
        return this.put(tx, ctx, 'revision', key, dep, checked, cur);
      },
    );
  }

  // ---------------------------------------------------------------- traffic

  getTraffic(environment: string, deployment: string): Promise<Versioned<TrafficSplit>> {
    const key = `${environment}/${deployment}`;
    return this.read(async (q) => {
      const t = await this.loadForRead<TrafficSplit>(q, 'traffic', key);
      if (!t) throw new StoreError('not-found', `deployment ${key} has no traffic split yet`);
      return strip(t);
    });
  }

  setTraffic(split: TrafficSplit, options: MutationOptions): Promise<MutationResult<TrafficSplit>> {
    const env = String(split?.environment ?? '');
    const key = `${env}/${String(split?.deployment ?? '')}`;
    return this.mutate('setTraffic', [split], options, target('traffic.set', env, key), async (tx, ctx) => {
      const value = valid('traffic-split', split, `traffic split of ${key}`);
      await this.mustLoad(tx, 'deployment', key, `deployment ${key}`);
      const cur = await this.load<TrafficSplit>(tx, 'traffic', key);
      precondition(cur, options, `traffic split of ${key}`, 'upsert');
      return this.writeSplit(tx, ctx, value.environment, value.deployment, value.entries, cur);
    });
  }

  rollbackTraffic(
    environment: string,
    deployment: string,
    options: MutationOptions,
  ): Promise<MutationResult<TrafficSplit>> {
    const key = `${environment}/${deployment}`;
    return this.mutate(
      'rollbackTraffic',
      [environment, deployment],
      options,
      target('traffic.rollback', environment, key),
      async (tx, ctx) => {
        const cur = await this.load<TrafficSplit>(tx, 'traffic', key);
        if (!cur) throw new StoreError('not-found', `deployment ${key} has no traffic split to roll back`);
        precondition(cur, options, `traffic split of ${key}`, 'update');
        const history = await this.list<TrafficHistoryEntry>(tx, 'traffic-history', key);
        const previous = previousSplit(history.map((h) => h.value.entries));
        if (!previous) {
          throw refused('nothing-to-roll-back', `deployment ${key} has no earlier, different split to roll back to`);
        }
        return this.writeSplit(tx, ctx, environment, deployment, previous, cur);
      },
    );
  }

  trafficHistory(environment: string, deployment: string, limit?: number): Promise<TrafficHistoryEntry[]> {
    return this.read(async (q) => {
      const all = (await this.list<TrafficHistoryEntry>(q, 'traffic-history', `${environment}/${deployment}`)).map(
        (h) => h.value,
      );
      return limit === undefined ? all : all.slice(Math.max(0, all.length - limit));
    });
  }

  private async writeSplit(
    tx: SqlQueryable,
    ctx: Ctx,
    environment: string,
    deployment: string,
    entries: readonly TrafficEntry[],
    cur: Loaded<TrafficSplit> | undefined,
  ): Promise<Change<TrafficSplit>> {
    const key = `${environment}/${deployment}`;
    const states = Object.fromEntries(
      (await this.list<Revision>(tx, 'revision', key)).map((r) => [r.value.id, r.value.state]),
    );
    const check = checkSplit(entries, states, key);
    if (!check.ok) {
      const rules = check.errors.filter((e) => e.code === 'unknown-revision' || e.code === 'not-ready');
      if (rules.length === check.errors.length && rules[0]) {
        const r = rules[0];
        throw new StoreError('lifecycle-refused', rules.map((e) => e.message).join('; '), {
          reason: { code: r.code, message: r.message, ...(r.revision === undefined ? {} : { revision: r.revision }) },
        });
      }
      throw invalid(
        `traffic split of ${key} is invalid`,
        check.errors.map((e) => ({ path: '/entries', message: e.message })),
      );
    }
    const value: TrafficSplit = { environment, deployment, entries: check.entries as TrafficEntry[] };
    const change = await this.put(tx, ctx, 'traffic', key, environment, value, cur);
    const n = Number(
      (await tx.get('SELECT COUNT(*) AS n FROM objects WHERE kind = ? AND parent = ?', ['traffic-history', key]))?.n ??
        0,
    );
    const seq = n + 1;
    const entry: TrafficHistoryEntry = {
      seq,
      at: ctx.now,
      actor: ctx.actor,
      requestId: ctx.requestId,
      entries: value.entries,
      version: change.version ?? '',
    };
    await this.put(tx, ctx, 'traffic-history', `${key}/${String(seq).padStart(8, '0')}`, key, entry, undefined);
    return change;
  }

  // ---------------------------------------------------------------- secret references

  putSecretRef(
    environment: string,
    name: string,
    ref: string,
    options: MutationOptions,
  ): Promise<MutationResult<SecretRefRecord>> {
    const key = `${environment}/${name}`;
    // The fingerprint hashes the reference; the ledger and the audit never hold it in clear if it was refused.
    return this.mutate(
      'putSecretRef',
      [environment, name, ref],
      options,
      target('secret-ref.put', environment, key),
      async (tx, ctx) => {
        checkSecretRecord(name, ref, `secret reference ${key}`);
        await this.mustLoad(tx, 'environment', environment, `environment ${environment}`);
        const cur = await this.load<SecretRefRecord>(tx, 'secret-ref', key);
        precondition(cur, options, `secret reference ${key}`, 'upsert');
        return this.put(tx, ctx, 'secret-ref', key, environment, { environment, name, ref }, cur);
      },
    );
  }

  listSecretRefs(environment: string): Promise<Versioned<SecretRefRecord>[]> {
    return this.read(async (q) => {
      await this.mustLoad(q, 'environment', environment, `environment ${environment}`);
      return this.list<SecretRefRecord>(q, 'secret-ref', environment);
    });
  }

  deleteSecretRef(environment: string, name: string, options: MutationOptions): Promise<MutationResult<null>> {
    const key = `${environment}/${name}`;
    return this.mutate(
      'deleteSecretRef',
      [environment, name],
      options,
      target('secret-ref.delete', environment, key),
      async (tx) => {
        const cur = await this.mustLoad<SecretRefRecord>(tx, 'secret-ref', key, `secret reference ${key}`);
        precondition(cur, options, `secret reference ${key}`, 'update');
        await tx.run(DELETE_OBJECT, ['secret-ref', key]);
        return { value: null, version: null, before: cur.digest, after: null };
      },
    );
  }

  // ---------------------------------------------------------------- credentials

  credentialRequirements(environment: string, pack: string): Promise<Versioned<Credentials>> {
    const key = `${environment}/${pack}`;
    return this.read(async (q) =>
      strip(await this.mustLoad<Credentials>(q, 'credentials', key, `credentials of ${pack} in ${environment}`)),
    );
  }

  recordBootstrap(record: CredentialsRecord, options: MutationOptions): Promise<MutationResult<Credentials>> {
    const env = String(record?.environment ?? '');
    const key = `${env}/${String(record?.pack ?? '')}`;
    return this.mutate(
      'recordBootstrap',
      [record],
      options,
      target('credentials.bootstrap', env, key),
      async (tx, ctx) => {
        if (record.secretRef !== undefined) checkSecretRef(record.secretRef, `credentials ${key}`, '/secretRef');
        const value = valid('credentials', record, `credentials ${key}`);
        await this.mustLoad(tx, 'environment', env, `environment ${env}`);
        const cur = await this.load<Credentials>(tx, 'credentials', key);
        precondition(cur, options, `credentials ${key}`, 'upsert');
        return this.put(tx, ctx, 'credentials', key, env, value, cur);
      },
    );
  }

  rotateCredentials(
    environment: string,
    pack: string,
    rotation: CredentialsRotation,
    options: MutationOptions,
  ): Promise<MutationResult<Credentials>> {
    const key = `${environment}/${pack}`;
    return this.mutate(
      'rotateCredentials',
      [environment, pack, rotation],
      options,
      target('credentials.rotate', environment, key),
      async (tx, ctx) => {
        checkSecretRef(rotation?.secretRef, `credentials ${key}`, '/secretRef');
        const cur = await this.mustLoad<Credentials>(tx, 'credentials', key, `credentials ${key}`);
        precondition(cur, options, `credentials ${key}`, 'update');
        const next: Credentials = {
          ...cur.value,
          secretRef: rotation.secretRef,
          rotatedAt: rotation.rotatedAt ?? ctx.now,
          ...(rotation.verifiedAt === undefined ? {} : { verifiedAt: rotation.verifiedAt }),
        };
        return this.put(
          tx,
          ctx,
          'credentials',
          key,
          environment,
          valid('credentials', next, `credentials ${key}`),
          cur,
        );
      },
    );
  }

  // ---------------------------------------------------------------- access tokens

  createToken(input: CreateTokenInput, options: MutationOptions): Promise<MutationResult<AccessToken>> {
    const hash = typeof input?.hash === 'string' ? input.hash : '';
    const id = input?.id ?? `tok-${bytesDigest(hash).slice(7, 19)}`;
    return this.mutate(
      'createToken',
      [{ ...input, hash: bytesDigest(hash) }],
      options,
      target('token.create', null, id),
      async (tx, ctx) => {
        checkToken(input, id);
        const cur = await this.load<StoredToken>(tx, 'token', id);
        precondition(cur, options, `token ${id}`, 'create');
        const stored: StoredToken = {
          id,
          actor: input.actor,
          roles: [...input.roles],
          rules: (input.rules ?? []).map((r) => ({ environments: r.environments, actions: [...r.actions] })),
          createdAt: ctx.now,
          hash,
        };
        const c = await this.put(tx, ctx, 'token', id, hash, stored, cur);
        return { ...c, value: publicToken(c.value) };
      },
    );
  }

  listTokens(): Promise<Versioned<AccessToken>[]> {
    return this.read(async (q) =>
      (await this.list<StoredToken>(q, 'token')).map((t) => ({ value: publicToken(t.value), version: t.version })),
    );
  }

  revokeToken(id: string, options: MutationOptions): Promise<MutationResult<AccessToken>> {
    return this.mutate('revokeToken', [id], options, target('token.revoke', null, id), async (tx, ctx) => {
      const cur = await this.mustLoad<StoredToken>(tx, 'token', id, `token ${id}`);
      precondition(cur, options, `token ${id}`, 'update');
      if (cur.value.revokedAt)
        throw refused('already-revoked', `token ${id} was already revoked at ${cur.value.revokedAt}`);
      const c = await this.put(tx, ctx, 'token', id, cur.value.hash, { ...cur.value, revokedAt: ctx.now }, cur);
      return { ...c, value: publicToken(c.value) };
    });
  }

  findTokenByHash(hash: string): Promise<Versioned<AccessToken> | undefined> {
    return this.read(async (q) => {
      const found = (await this.listForRead<StoredToken>(q, 'token', hash)).find((t) => !t.value.revokedAt);
      return found ? { value: publicToken(found.value), version: found.version } : undefined;
    });
  }

  // ---------------------------------------------------------------- audit

  async queryAudit(query: AuditQuery = {}): Promise<AuditEntry[]> {
    this.assertOpen();
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.environment !== undefined) {
      where.push('environment = ?');
      params.push(query.environment);
    }
    if (query.actor !== undefined) {
      where.push('actor = ?');
      params.push(query.actor);
    }
    if (query.action !== undefined) {
      if (query.action.endsWith('.')) {
        where.push('action LIKE ?');
        params.push(`${query.action.replace(/[%_]/g, '')}%`);
      } else {
        where.push('action = ?');
        params.push(query.action);
      }
    }
    if (query.outcome !== undefined) {
      where.push('outcome = ?');
      params.push(query.outcome);
    }
    if (query.afterSeq !== undefined) {
      where.push('seq > ?');
      params.push(query.afterSeq);
    }
    const limit = Math.min(Math.max(1, Math.trunc(query.limit ?? 1000)), 10_000);
    params.push(limit);
    const sql = `SELECT seq, entry FROM audit${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY seq LIMIT ?`;
    const rows = await this.driver.read((q) => q.all(sql, params));
    return rows.map((r) => {
      try {
        return JSON.parse(String(r.entry)) as AuditEntry;
      } catch {
        throw new StoreError('corrupt', `[store-sql] ${this.label}: audit entry ${String(r.seq)} is not valid JSON`, {
          objects: [{ kind: 'audit', key: String(r.seq) }],
        });
      }
    });
  }

  async verifyAudit(): Promise<AuditVerification> {
    this.assertOpen();
    return this.driver.read((q) => this.verifyAuditOn(q));
  }

  async appendRefusal(refusal: RefusalRecord): Promise<AuditEntry> {
    this.assertOpen();
    const errors: ValidationError[] = [];
    if (typeof refusal?.actor !== 'string' || !ACTOR.test(refusal.actor))
      errors.push({ path: '/actor', message: 'must be an actor id without whitespace' });
    if (typeof refusal?.action !== 'string' || !ACTION.test(refusal.action))
      errors.push({ path: '/action', message: 'must be a dotted action name such as traffic.set' });
    if (refusal?.environment !== null && !isDnsLabel(String(refusal?.environment)))
      errors.push({ path: '/environment', message: 'must be an environment name or null' });
    if (!Number.isInteger(refusal?.status) || refusal.status < 100 || refusal.status > 599)
      errors.push({ path: '/status', message: 'must be an HTTP status code' });
    if (typeof refusal?.requestId !== 'string' || !REQUEST_ID.test(refusal.requestId))
      errors.push({ path: '/requestId', message: 'must be 1–128 printable characters' });
    if (errors.length > 0) throw invalid('refusal record is invalid', errors);
    return this.write(async (tx) => {
      const st = await this.lockState(tx);
      const entry = await this.append(tx, st, {
        at: new Date().toISOString(),
        actor: refusal.actor,
        environment: refusal.environment,
        action: refusal.action,
        target: String(refusal.target ?? '').slice(0, 1024),
        outcome: 'refused',
        status: refusal.status,
        code: String(refusal.code ?? '').slice(0, 64),
        requestId: refusal.requestId,
        before: null,
        after: null,
        ...(refusal.detail === undefined ? {} : { detail: String(refusal.detail).slice(0, 4096) }),
      });
      await this.saveState(tx, st);
      return entry;
    });
  }

  // ---------------------------------------------------------------- admin

  async backup(file: string): Promise<BackupManifest> {
    this.assertServing();
    const doc = await this.driver.read(async (q): Promise<BackupDocument> => {
      const state = parseState((await q.get("SELECT v FROM meta WHERE k = 'state'"))?.v);
      const objects = (await q.all('SELECT kind, key, parent, value, digest, version FROM objects')).map((r) => {
        this.checkRow(String(r.kind), String(r.key), r);
        return {
          kind: String(r.kind),
          key: String(r.key),
          parent: String(r.parent),
          version: String(r.version),
          digest: String(r.digest),
          value: JSON.parse(String(r.value)) as unknown,
        };
      });
      objects.sort((a, b) => compare(`${a.kind} ${a.key}`, `${b.kind} ${b.key}`));
      const audit = (await q.all('SELECT seq, entry, hash FROM audit ORDER BY seq')).map((r) => ({
        seq: Number(r.seq),
        entry: JSON.parse(String(r.entry)) as AuditEntry,
        hash: String(r.hash),
      }));
      const ledger = (
        await q.all(
          'SELECT actor, key, fingerprint, request_id, result, created_ms, gen FROM ledger ORDER BY gen, actor, key',
        )
      ).map((r) => ({
        actor: String(r.actor),
        key: String(r.key),
        fingerprint: String(r.fingerprint),
        requestId: String(r.request_id),
        result: String(r.result),
        createdMs: Number(r.created_ms),
        gen: Number(r.gen),
      }));
      return {
        format: 'greentic-store-backup/1',
        schemaVersion: this.config.schemaVersion,
        state,
        objects,
        audit,
        ledger,
      };
    });
    return writeBackup(file, doc);
  }

  async restore(file: string, options: RestoreOptions): Promise<RestoreReport> {
    this.assertOpen();
    if (typeof options?.actor !== 'string' || !ACTOR.test(options.actor)) {
      throw invalid('restore needs an actor', [{ path: '/actor', message: 'must be an actor id without whitespace' }]);
    }
    const { manifest, doc } = await readBackup(file);
    if (
      !Number.isInteger(doc.schemaVersion) ||
      doc.schemaVersion < BACKUP_COMPATIBLE_SINCE ||
      doc.schemaVersion > this.config.schemaVersion
    ) {
      throw invalid(
        `backup ${file} has schema version ${doc.schemaVersion}; this store has ${this.config.schemaVersion} and restores backups of versions ${BACKUP_COMPATIBLE_SINCE}–${this.config.schemaVersion}`,
        [
          {
            path: '/schemaVersion',
            message: `must be between ${BACKUP_COMPATIBLE_SINCE} and ${this.config.schemaVersion}`,
          },
        ],
      );
    }
    const chain = verifyChain(
      doc.audit.map((a) => ({ seq: a.seq, entry: JSON.stringify(a.entry), hash: a.hash })),
      {
        anchor: { seq: doc.state.anchorSeq, hash: doc.state.anchorHash },
        head: { seq: doc.state.headSeq, hash: doc.state.headHash },
      },
    );
    if (!chain.ok) {
      throw new StoreError(
        'corrupt',
        `[store-sql] backup ${file}: its audit chain does not verify: ${chain.problems.map((p) => p.message).join('; ')}`,
        {
          objects: chain.problems.map((p) => ({ kind: 'audit', key: String(p.seq) })),
        },
      );
    }
    const requestId = options.requestId ?? `req-${randomUUID()}`;
    const outcome = await this.write(
      async (tx): Promise<{ ok: true; report: RestoreReport } | { ok: false; error: StoreError }> => {
        const live = await this.lockState(tx);
        const older = live.generation > doc.state.generation;
        if (older && options.force !== true) {
          const error = new StoreError(
            'lifecycle-refused',
            `[store-sql] backup ${file} has generation ${doc.state.generation}, older than the live store's ${live.generation}; pass force to restore it anyway (the forced restore is recorded in the audit)`,
            {
              reason: {
                code: 'backup-older-than-live',
                message: `backup generation ${doc.state.generation} < live generation ${live.generation}`,
              },
            },
          );
          await this.append(
            tx,
            live,
            refusalEntry(options.actor, requestId, { action: 'store.restore', environment: null, target: file }, error),
          );
          await this.saveState(tx, live);
          return { ok: false, error };
        }
        await tx.run('DELETE FROM objects');
        await tx.run('DELETE FROM audit');
        await tx.run('DELETE FROM ledger');
        for (const o of doc.objects) {
          await tx.run(UPSERT_OBJECT, [o.kind, o.key, o.parent, canonicalJson(o.value), o.digest, o.version]);
        }
        for (const a of doc.audit) {
          await tx.run(INSERT_AUDIT, [
            a.seq,
            a.entry.at,
            a.entry.actor,
            a.entry.environment,
            a.entry.action,
            a.entry.outcome,
            JSON.stringify(a.entry),
            a.hash,
          ]);
        }
        for (const l of doc.ledger) {
          await tx.run(INSERT_LEDGER, [l.actor, l.key, l.fingerprint, l.requestId, l.result, l.createdMs, l.gen]);
        }
        const st: MutableState = { ...doc.state, generation: Math.max(live.generation, doc.state.generation) + 1 };
        const forced = older && options.force === true;
        await this.append(tx, st, {
          at: new Date().toISOString(),
          actor: options.actor,
          environment: null,
          action: 'store.restore',
          target: file.slice(-1024),
          outcome: 'applied',
          requestId,
          before: null,
          after: manifest.fileDigest,
          detail: `restored backup generation ${doc.state.generation} over live generation ${live.generation}${forced ? ' (forced: the backup was older than the live store)' : ''}`,
        });
        await this.saveState(tx, st);
        return {
          ok: true,
          report: { manifest, forced, replacedGeneration: live.generation, objects: doc.objects.length },
        };
      },
    );
    if (!outcome.ok) throw outcome.error;
    this.corruptObjects = null;
    return outcome.report;
  }

  async verifyIntegrity(): Promise<IntegrityReport> {
    this.assertOpen();
    this.verified?.clear();
    const { corrupt, checked } = await this.checkObjects();
    const engine = (await this.config.engineCheck?.()) ?? [];
    const audit = await this.driver.read((q) => this.verifyAuditOn(q));
    this.corruptObjects = corrupt.length > 0 ? corrupt : null;
    if (engine.length > 0)
      this.corruptObjects = [...corrupt, { kind: 'database', key: `${this.label}: ${engine.join('; ')}` }];
    return {
      ok: corrupt.length === 0 && engine.length === 0 && audit.ok,
      objectsChecked: checked,
      corrupt,
      engine,
      audit,
    };
  }

  async applyRetention(
    policy: RetentionPolicy,
    options: { readonly actor: string; readonly requestId?: string },
  ): Promise<RetentionReport> {
    this.assertServing();
    if (typeof options?.actor !== 'string' || !ACTOR.test(options.actor)) {
      throw invalid('retention needs an actor', [
        { path: '/actor', message: 'must be an actor id without whitespace' },
      ]);
    }
    for (const [path, n] of [
      ['/audit/keepEntries', policy.audit?.keepEntries],
      ['/audit/keepDays', policy.audit?.keepDays],
      ['/ledger/keepEntries', policy.ledger?.keepEntries],
      ['/ledger/keepSeconds', policy.ledger?.keepSeconds],
    ] as const) {
      if (n !== undefined && (!Number.isFinite(n) || n < 0)) {
        throw invalid('retention policy is invalid', [{ path, message: 'must be a non-negative number' }]);
      }
    }
    const requestId = options.requestId ?? `req-${randomUUID()}`;
    return this.write(async (tx) => {
      const st = await this.lockState(tx);
      const now = new Date();
      let auditTrimmed: RetentionReport['auditTrimmed'] = null;
      if (policy.audit && (policy.audit.keepEntries !== undefined || policy.audit.keepDays !== undefined)) {
        const rows = await tx.all('SELECT seq, at, hash FROM audit ORDER BY seq');
        const cutoff = policy.audit.keepDays === undefined ? null : now.getTime() - policy.audit.keepDays * 86_400_000;
        let last = -1;
        for (let i = 0; i < rows.length; i++) {
          const r = rows[i] as SqlRow;
          const beyondCount = policy.audit.keepEntries !== undefined && i < rows.length - policy.audit.keepEntries;
          const tooOld = cutoff !== null && Date.parse(String(r.at)) < cutoff;
          if (beyondCount || tooOld) last = i;
          else break;
        }
        const first = rows[0];
        const anchor = rows[last];
        if (first && anchor) {
          const fromSeq = Number(first.seq);
          const toSeq = Number(anchor.seq);
          const anchorHash = String(anchor.hash);
          await tx.run('DELETE FROM audit WHERE seq <= ?', [toSeq]);
          st.anchorSeq = toSeq;
          st.anchorHash = anchorHash;
          auditTrimmed = { fromSeq, toSeq, anchorHash };
          await this.append(tx, st, {
            at: now.toISOString(),
            actor: options.actor,
            environment: null,
            action: 'store.retention',
            target: 'audit',
            outcome: 'applied',
            requestId,
            before: null,
            after: null,
            detail: `trimmed audit entries ${fromSeq}–${toSeq}; the chain now starts after ${anchorHash}`,
          });
        }
      }
      let ledgerTrimmed = 0;
      if (policy.ledger && (policy.ledger.keepEntries !== undefined || policy.ledger.keepSeconds !== undefined)) {
        ledgerTrimmed = await this.trimLedger(tx, st, options.actor, requestId, {
          maxEntries: policy.ledger.keepEntries,
          maxAgeSeconds: policy.ledger.keepSeconds,
        });
      }
      if (auditTrimmed || ledgerTrimmed > 0) st.generation += 1;
      await this.saveState(tx, st);
      return { auditTrimmed, ledgerTrimmed };
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.driver.close();
    await this.config.onClose?.();
  }

  // ---------------------------------------------------------------- the write path

  private async mutate<T>(
    verb: string,
    args: readonly unknown[],
    options: MutationOptions,
    where: Target,
    body: (tx: SqlQueryable, ctx: Ctx) => Promise<Change<T>>,
  ): Promise<MutationResult<T>> {
    // Everything up to the in-flight mark runs synchronously, so a duplicate issued in the same tick sees it.
    this.assertServing();
    checkOptions(options);
    const expectedVersion = options.expectedVersion ?? null;
    const createOnly = options.createOnly === true;
    // The fingerprint hashes the request as JSON would carry it; plain data needs no round trip to get there.
    const fingerprint = textDigest(
      plainCanonicalJson({ verb, args: args ?? null, expectedVersion, createOnly }) ??
        canonicalText({
          verb,
          args: JSON.parse(JSON.stringify(args ?? null)) as unknown,
          expectedVersion,
          createOnly,
        }),
    );
    const inFlightKey = `${options.actor}\u0000${options.idempotencyKey}`;
    if (this.inFlight.has(inFlightKey)) {
      throw new StoreError(
        'idempotency-in-flight',
        `idempotency key ${options.idempotencyKey} of ${options.actor}: the first request with this key is still running; retry once it has finished`,
      );
    }
    this.inFlight.add(inFlightKey);
    const requestId = options.requestId ?? `req-${randomUUID()}`;
    try {
      const outcome = await this.write(async (tx): Promise<Outcome<T>> => {
        // A synchronous driver (better-sqlite3) answers the transaction's own statements without a promise each.
        const s = tx.sync;
        const st = s ? parseState(s.get(this.selectState)?.v) : await this.lockState(tx);
        const ledgerKey = [options.actor, options.idempotencyKey];
        const led = s ? s.get(SELECT_LEDGER, ledgerKey) : await tx.get(SELECT_LEDGER, ledgerKey);
        if (led) {
          if (led.fingerprint === fingerprint) {
            return {
              kind: 'done',
              result: { ...(JSON.parse(String(led.result)) as MutationResult<T>), replayed: true },
            };
          }
          const error = new StoreError(
            'idempotency-key-reused',
            `idempotency key ${options.idempotencyKey} of ${options.actor} was first used for a different request (${String(led.request_id)}); use a new key for a new request`,
            { firstRequestId: String(led.request_id) },
          );
          await this.append(tx, st, refusalEntry(options.actor, requestId, where, error));
          await this.saveState(tx, st);
          return { kind: 'refused', error };
        }
        const ctx: Ctx = { gen: st.generation + 1, now: new Date().toISOString(), actor: options.actor, requestId };
        // A refused body leaves no trace but its audit entry: the driver undoes the request's work when it can,
        // else a savepoint of the store's own brackets the body.
        const undo = tx.undoRequest;
        if (!undo) await tx.run('SAVEPOINT body');
        let change: Change<T>;
        try {
          change = await body(tx, ctx);
          if (!undo) await tx.run('RELEASE SAVEPOINT body');
        } catch (e) {
          if (undo) undo();
          else {
            await tx.run('ROLLBACK TO SAVEPOINT body');
            await tx.run('RELEASE SAVEPOINT body');
          }
          if (isStoreError(e) && AUDITED.has(e.code)) {
            await this.append(tx, st, refusalEntry(options.actor, requestId, where, e));
            await this.saveState(tx, st);
            return { kind: 'refused', error: e };
          }
          throw e;
        }
        const result: MutationResult<T> = { value: change.value, version: change.version, replayed: false, requestId };
        const entry: UnchainedEntry = {
          at: ctx.now,
          actor: options.actor,
          environment: where.environment,
          action: where.action,
          target: where.target,
          outcome: 'applied',
          requestId,
          before: change.before,
          after: change.after,
          ...(change.detail === undefined ? {} : { detail: change.detail }),
        };
        if (s) this.appendSync(s, st, entry);
        else await this.append(tx, st, entry);
        const createdMs = Date.now();
        if (this.ledgerOldest !== undefined && createdMs < this.ledgerOldest) this.ledgerOldest = createdMs;
        const ledgerRow = [
          options.actor,
          options.idempotencyKey,
          fingerprint,
          requestId,
          JSON.stringify(result),
          createdMs,
          ctx.gen,
        ];
        if (s) s.run(INSERT_LEDGER, ledgerRow);
        else await tx.run(INSERT_LEDGER, ledgerRow);
        st.generation = ctx.gen;
        if (ctx.gen % this.ledgerBounds.trimEvery === 0) {
          await this.trimLedger(tx, st, 'store', requestId, this.ledgerBounds);
        }
        if (s) s.run(UPDATE_STATE, [JSON.stringify(st)]);
        else await this.saveState(tx, st);
        return { kind: 'done', result };
      }, true);
      if (outcome.kind === 'refused') throw outcome.error;
      return outcome.result;
    } finally {
      this.inFlight.delete(inFlightKey);
    }
  }

  private async trimLedger(
    tx: SqlQueryable,
    st: MutableState,
    actor: string,
    requestId: string,
    bounds: { readonly maxEntries?: number | undefined; readonly maxAgeSeconds?: number | undefined },
  ): Promise<number> {
    let trimmed = 0;
    if (bounds.maxAgeSeconds !== undefined) {
      const cutoff = Date.now() - bounds.maxAgeSeconds * 1000;
      if (this.ledgerOldest === undefined || this.ledgerOldest < cutoff) {
        trimmed += await tx.run('DELETE FROM ledger WHERE created_ms < ?', [cutoff]);
        if (this.verified !== undefined) {
          const oldest = (await tx.get('SELECT MIN(created_ms) AS m FROM ledger'))?.m;
          this.ledgerOldest = oldest === null || oldest === undefined ? Number.POSITIVE_INFINITY : Number(oldest);
        }
      }
    }
    if (bounds.maxEntries !== undefined) {
      const n = Number((await tx.get('SELECT COUNT(*) AS n FROM ledger'))?.n ?? 0);
      const excess = n - bounds.maxEntries;
      if (excess > 0) {
        const edge = await tx.get('SELECT gen FROM ledger ORDER BY gen LIMIT 1 OFFSET ?', [excess - 1]);
        if (edge) trimmed += await tx.run('DELETE FROM ledger WHERE gen <= ?', [Number(edge.gen)]);
      }
    }
    if (trimmed > 0) {
      await this.append(tx, st, {
        at: new Date().toISOString(),
        actor,
        environment: null,
        action: 'store.retention',
        target: 'idempotency-ledger',
        outcome: 'applied',
        requestId,
        before: null,
        after: null,
        detail: `trimmed ${trimmed} idempotency ledger rows (bounds: ${bounds.maxEntries ?? 'any'} rows, ${bounds.maxAgeSeconds ?? 'any'} s)`,
      });
    }
    return trimmed;
  }

  private async lockState(tx: SqlQueryable): Promise<MutableState> {
    return parseState((await tx.get(this.selectState))?.v);
  }

  private async saveState(tx: SqlQueryable, st: MutableState): Promise<void> {
    await tx.run(UPDATE_STATE, [JSON.stringify(st)]);
  }

  private async append(tx: SqlQueryable, st: MutableState, entry: UnchainedEntry): Promise<AuditEntry> {
    const chained = chainEntry(entry, st.headSeq + 1, st.headHash);
    await tx.run(INSERT_AUDIT, auditRow(chained));
    st.headSeq = chained.seq;
    st.headHash = chained.hash;
    return chained;
  }

  /** {@link append} on a synchronous driver. */
  private appendSync(s: SqlSyncQueryable, st: MutableState, entry: UnchainedEntry): AuditEntry {
    const chained = chainEntry(entry, st.headSeq + 1, st.headHash);
    s.run(INSERT_AUDIT, auditRow(chained));
    st.headSeq = chained.seq;
    st.headHash = chained.hash;
    return chained;
  }

  private async put<T>(
    tx: SqlQueryable,
    ctx: Ctx,
    kind: ObjectKind,
    key: string,
    parent: string,
    value: T,
    cur: Loaded<unknown> | undefined,
  ): Promise<Change<T>> {
    const text = canonicalText(value);
    const digest = textDigest(text);
    const version = `v${ctx.gen}-${digest.slice(7, 19)}`;
    const row = [kind, key, parent, text, digest, version];
    if (tx.sync) tx.sync.run(UPSERT_OBJECT, row);
    else await tx.run(UPSERT_OBJECT, row);
    if (this.written.size >= VERIFIED_ROWS) this.written.clear();
    this.written.set(`${kind}\0${key}`, { text, digest });
    return { value: JSON.parse(text) as T, version, before: cur?.digest ?? null, after: digest };
  }

  // ---------------------------------------------------------------- the read path

  private async read<T>(fn: (q: SqlQueryable) => Promise<T>): Promise<T> {
    this.assertServing();
    return this.driver.read(fn);
  }

  /**
   * Every write goes through here, so rows remembered by reads never outlive a change. Only {@link mutate} keeps
   * {@link ledgerOldest}: any other write forgets it as it starts and as it ends inside its transaction (so a
   * request later in the same group commit never trusts it either).
   */
  private async write<T>(fn: (tx: SqlQueryable) => Promise<T>, keepsLedgerBound = false): Promise<T> {
    this.writes++;
    this.verified?.clear();
    const run = keepsLedgerBound
      ? fn
      : async (tx: SqlQueryable): Promise<T> => {
          this.ledgerOldest = undefined;
          try {
            return await fn(tx);
          } finally {
            this.ledgerOldest = undefined;
          }
        };
    try {
      return await this.driver.write(run);
    } finally {
      this.writes++;
      this.verified?.clear();
    }
  }

  private remember(key: string, rows: VerifiedRow | readonly VerifiedRow[], writesBefore: number): void {
    if (this.verified === undefined || writesBefore !== this.writes) return;
    if (this.verified.size >= VERIFIED_ROWS) this.verified.clear();
    this.verified.set(key, rows);
  }

  /**
   * A whole object as remembered in {@link verified}, without a trip through the driver: its value is parsed only
   * when read (each caller gets its own copy), and {@link storedJson} gives its JSON text without parsing. Undefined
   * when not remembered, or when the store is closed or locked as corrupt (the slow path then throws as usual).
   */
  private verifiedHit<T>(kind: ObjectKind, key: string): Versioned<T> | undefined {
    if (this.verified === undefined || this.closed || this.corruptObjects !== null) return undefined;
    const row = this.verified.get(`${kind}\0${key}`) as VerifiedRow | undefined;
    if (row === undefined) return undefined;
    let value: T | undefined;
    const versioned: Versioned<T> = {
      get value(): T {
        if (value === undefined) value = JSON.parse(row.text) as T;
        return value;
      },
      set value(v: T) {
        value = v;
        jsonTexts.delete(this);
      },
      version: row.version,
    };
    if (row.json !== undefined) jsonTexts.set(versioned, row.json);
    return versioned;
  }

  /**
   * {@link load} for the read verbs: a row verified since the last write is not read and hashed again (nothing
   * but this store's own writes can change it), only parsed afresh, so callers never share a value.
   */
  private async loadForRead<T>(q: SqlQueryable, kind: ObjectKind, key: string): Promise<Loaded<T> | undefined> {
    if (this.verified === undefined) return this.load<T>(q, kind, key);
    const id = `${kind}\0${key}`;
    const hit = this.verified.get(id) as VerifiedRow | undefined;
    if (hit !== undefined) return { value: JSON.parse(hit.text) as T, version: hit.version, digest: hit.digest };
    const before = this.writes;
    const row = await q.get(SELECT_OBJECT, [kind, key]);
    if (!row) return undefined;
    const loaded = this.checkRow<T>(kind, key, row);
    const text = String(row.value);
    // The JSON an HTTP answer carries (`JSON.stringify` of the value): the stored text when they are the same.
    const json = JSON.stringify(loaded.value);
    this.remember(
      id,
      { key, text, json: json === text ? text : json, version: loaded.version, digest: loaded.digest },
      before,
    );
    return loaded;
  }

  /** {@link list} of a parent's children for the read verbs, remembered like {@link loadForRead}. */
  private async listForRead<T>(q: SqlQueryable, kind: ObjectKind, parent: string): Promise<Versioned<T>[]> {
    if (this.verified === undefined) return this.list<T>(q, kind, parent);
    const id = `${kind}\0\0${parent}`;
    const hit = this.verified.get(id) as readonly VerifiedRow[] | undefined;
    if (hit !== undefined) return hit.map((r) => ({ value: JSON.parse(r.text) as T, version: r.version }));
    const before = this.writes;
    const rows = (await q.all(SELECT_CHILDREN, [kind, parent]))
      .map((r) => {
        const key = String(r.key);
        const loaded = this.checkRow<T>(kind, key, r);
        return { key, text: String(r.value), version: loaded.version, digest: loaded.digest };
      })
      .sort((a, b) => compare(a.key, b.key));
    this.remember(id, rows, before);
    return rows.map((r) => ({ value: JSON.parse(r.text) as T, version: r.version }));
  }

  private async load<T>(q: SqlQueryable, kind: ObjectKind, key: string): Promise<Loaded<T> | undefined> {
    const row = q.sync ? q.sync.get(SELECT_OBJECT, [kind, key]) : await q.get(SELECT_OBJECT, [kind, key]);
    return row ? this.checkRow<T>(kind, key, row, this.written.get(`${kind}\0${key}`)) : undefined;
  }

  /** {@link load} (or, for the read verbs, {@link loadForRead}), refusing a missing object with not-found. */
  private async mustLoad<T>(
    q: SqlQueryable,
    kind: ObjectKind,
    key: string,
    label: string,
    forRead = false,
  ): Promise<Loaded<T>> {
    const found = forRead ? await this.loadForRead<T>(q, kind, key) : await this.load<T>(q, kind, key);
    if (!found) throw new StoreError('not-found', `${label} does not exist`);
    return found;
  }

  private async list<T>(q: SqlQueryable, kind: ObjectKind, parent?: string): Promise<Versioned<T>[]> {
    const rows = parent === undefined ? await q.all(SELECT_KIND, [kind]) : await q.all(SELECT_CHILDREN, [kind, parent]);
    return rows
      .map((r) => ({ key: String(r.key), loaded: this.checkRow<T>(kind, String(r.key), r) }))
      .sort((a, b) => compare(a.key, b.key))
      .map((x) => ({ value: x.loaded.value, version: x.loaded.version }));
  }

  /**
   * Verify a row's digest as it is read: rotten data is never served. A row equal, text and digest, to one this
   * store hashed as it wrote it (`known`) is verified by that comparison instead of hashing its text again.
   */
  private checkRow<T>(kind: string, key: string, row: SqlRow, known?: WrittenRow): Loaded<T> {
    const text = String(row.value);
    const digest = String(row.digest);
    let value: T;
    try {
      const same = known !== undefined && known.digest === digest && known.text === text;
      if (!same && textDigest(text) !== digest) throw new Error('digest mismatch');
      value = JSON.parse(text) as T;
    } catch {
      this.corruptObjects = mergeNames(this.corruptObjects ?? [], [{ kind, key }]);
      throw this.corruptError();
    }
    return { value, version: String(row.version), digest };
  }

  private async checkObjects(): Promise<{ corrupt: StoredObjectName[]; checked: number }> {
    const rows = await this.driver.read((q) => q.all('SELECT kind, key, value, digest FROM objects'));
    const corrupt: StoredObjectName[] = [];
    for (const r of rows) {
      const text = String(r.value);
      let ok = textDigest(text) === String(r.digest);
      if (ok) {
        try {
          JSON.parse(text);
        } catch {
          ok = false;
        }
      }
      if (!ok) corrupt.push({ kind: String(r.kind), key: String(r.key) });
    }
    corrupt.sort((a, b) => compare(`${a.kind} ${a.key}`, `${b.kind} ${b.key}`));
    return { corrupt, checked: rows.length };
  }

  private async verifyAuditOn(q: SqlQueryable): Promise<AuditVerification> {
    const st = parseState((await q.get("SELECT v FROM meta WHERE k = 'state'"))?.v);
    const rows: StoredAuditRow[] = (await q.all('SELECT seq, entry, hash FROM audit ORDER BY seq')).map((r) => ({
      seq: Number(r.seq),
      entry: String(r.entry),
      hash: String(r.hash),
    }));
    const result = verifyChain(rows, {
      anchor: { seq: st.anchorSeq, hash: st.anchorHash },
      head: { seq: st.headSeq, hash: st.headHash },
    });
    if (
      st.anchorSeq > 0 &&
      !rows.some((r) => r.entry.includes(st.anchorHash) && r.entry.includes('"store.retention"'))
    ) {
      return {
        ...result,
        ok: false,
        problems: [
          ...result.problems,
          {
            seq: st.anchorSeq + 1,
            problem: 'removed',
            message: `the chain starts after entry ${st.anchorSeq}, but no retention entry records trimming up to it`,
          },
        ],
      };
    }
    return result;
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreError('unavailable', `[store-sql] ${this.label}: the store is closed`);
  }

  private assertServing(): void {
    this.assertOpen();
    if (this.corruptObjects) throw this.corruptError();
  }

  private corruptError(): StoreError {
    const objects = this.corruptObjects ?? [];
    return new StoreError(
      'corrupt',
      `[store-sql] ${this.label}: stored data is corrupt (${objects.map((o) => `${o.kind} ${o.key}`).join(', ')}: content does not match its digest); the store refuses to serve until it is restored from a backup or repaired and verifyIntegrity() passes`,
      { objects },
    );
  }
}

// ---------------------------------------------------------------- helpers

type MutableState = { -readonly [K in keyof StoreState]: StoreState[K] };

interface StoredToken extends AccessToken {
  readonly hash: string;
}

function publicToken(t: StoredToken): AccessToken {
  const { hash: _hash, ...rest } = t;
  return rest;
}

function parseState(v: unknown): MutableState {
  const s = JSON.parse(String(v ?? 'null')) as StoreState | null;
  if (!s)
    throw new StoreError('corrupt', '[store-sql] the store state row is missing', {
      objects: [{ kind: 'meta', key: 'state' }],
    });
  return {
    generation: s.generation,
    headSeq: s.headSeq,
    headHash: s.headHash,
    anchorSeq: s.anchorSeq,
    anchorHash: s.anchorHash,
  };
}

/** The audit table's columns for a chained entry. */
function auditRow(chained: AuditEntry): unknown[] {
  return [
    chained.seq,
    chained.at,
    chained.actor,
    chained.environment,
    chained.action,
    chained.outcome,
    JSON.stringify(chained),
    chained.hash,
  ];
}

function strip<T>(l: Loaded<T>): Versioned<T> {
  return { value: l.value, version: l.version };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function mergeNames(a: readonly StoredObjectName[], b: readonly StoredObjectName[]): StoredObjectName[] {
  const out = [...a];
  for (const n of b) if (!out.some((o) => o.kind === n.kind && o.key === n.key)) out.push(n);
  return out;
}

function target(action: string, environment: string | null, name: string): Target {
  return {
    action,
    environment: environment !== null && isDnsLabel(environment) ? environment : null,
    target: name.slice(0, 1024),
  };
}

function refusalEntry(actor: string, requestId: string, where: Target, e: StoreError): UnchainedEntry {
  return {
    at: new Date().toISOString(),
    actor,
    environment: where.environment,
    action: where.action,
    target: where.target,
    outcome: 'refused',
    status: STORE_ERROR_HTTP_STATUS[e.code],
    code: e.code,
    requestId,
    before: null,
    after: null,
    detail: e.message.slice(0, 4096),
  };
}

function invalid(message: string, errors: readonly ValidationError[]): StoreError {
  return new StoreError('invalid', `${message}:\n${formatErrors(errors)}`, { errors });
}

function refused(code: string, message: string): StoreError {
  return new StoreError('lifecycle-refused', message, { reason: { code, message } });
}

type Valid<N extends SchemaName> = Extract<ReturnType<typeof validate<N>>, { ok: true }>['value'];

function valid<N extends SchemaName>(name: N, input: unknown, label: string): Valid<N> {
  const r = validate(name, input);
  if (!r.ok) throw invalid(`${label} is invalid`, r.errors);
  return r.value;
}

/**
 * The optimistic-locking rules (RFC 9110 §13.1.1, strong comparison):
 * - `create`: the object must not exist (a second create is a conflict, as is `createOnly`);
 * - `update`: it must exist and the caller must name its current tag;
 * - `upsert`: absent → create (any `expectedVersion` is a conflict), present → like `update`.
 */
function precondition(
  cur: Loaded<unknown> | undefined,
  o: MutationOptions,
  label: string,
  mode: 'create' | 'update' | 'upsert',
): void {
  if (!cur) {
    if (mode === 'update') throw new StoreError('not-found', `${label} does not exist`);
    if (o.expectedVersion !== undefined) {
      throw new StoreError('version-conflict', `${label} does not exist (you expected version ${o.expectedVersion})`, {
        currentVersion: null,
      });
    }
    return;
  }
  if (mode === 'create' || o.createOnly === true) {
    throw new StoreError('version-conflict', `${label} already exists (version ${cur.version})`, {
      currentVersion: cur.version,
    });
  }
  if (o.expectedVersion === undefined) {
    throw new StoreError(
      'precondition-required',
      `${label} exists; changing it needs the version tag you read (expectedVersion / If-Match); read it and retry`,
    );
  }
  if (o.expectedVersion !== cur.version) {
    throw new StoreError(
      'version-conflict',
      `${label} changed since you read it: you expected version ${o.expectedVersion}, it is now ${cur.version}; read it again and retry`,
      { currentVersion: cur.version },
    );
  }
}

function checkOptions(o: MutationOptions): void {
  const errors: ValidationError[] = [];
  if (typeof o?.actor !== 'string' || !ACTOR.test(o.actor))
    errors.push({ path: '/actor', message: 'must be an actor id without whitespace (e.g. alice@example.com)' });
  if (typeof o?.idempotencyKey !== 'string' || !IDEMPOTENCY_KEY.test(o.idempotencyKey)) {
    errors.push({ path: '/idempotencyKey', message: 'must be 1–200 printable ASCII characters without spaces' });
  }
  if (o?.requestId !== undefined && (typeof o.requestId !== 'string' || !REQUEST_ID.test(o.requestId))) {
    errors.push({ path: '/requestId', message: 'must be 1–128 printable ASCII characters without spaces' });
  }
  if (o?.expectedVersion !== undefined && (typeof o.expectedVersion !== 'string' || o.expectedVersion.length > 200)) {
    errors.push({ path: '/expectedVersion', message: 'must be a version tag read from the store' });
  }
  if (errors.length > 0) throw invalid('mutation options are invalid', errors);
}

function checkSlot(slot: string): void {
  if (!(SLOTS as readonly string[]).includes(slot)) {
    throw invalid(`"${slot}" is not a slot`, [{ path: '/slot', message: `must be one of ${SLOTS.join(', ')}` }]);
  }
}

/** Refuse anything that is not a `secret://` reference without repeating it: it may be a secret value. */
function checkSecretRef(ref: unknown, label: string, path: string): void {
  if (typeof ref !== 'string' || ref.length > 512 || !SECRET_REF.test(ref)) {
    throw invalid(`${label}: the value given is not a secret reference (not repeated here, in case it is a secret)`, [
      {
        path,
        message:
          'must be a secret reference of the form secret://<store>/<path>; the store keeps references only, never secret values',
      },
    ]);
  }
}

function checkSecretRecord(name: unknown, ref: unknown, label: string): void {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw invalid(`${label} is invalid`, [{ path: '/name', message: 'must be 1–128 letters, digits, _ . -' }]);
  }
  checkSecretRef(ref, label, '/ref');
}

function checkToken(input: CreateTokenInput, id: string): void {
  const errors: ValidationError[] = [];
  if (typeof input?.hash !== 'string' || input.hash.length < 8 || input.hash.length > 512) {
    errors.push({ path: '/hash', message: 'must be the hash of the token secret (8–512 characters)' });
  }
  if (typeof input?.actor !== 'string' || !ACTOR.test(input.actor))
    errors.push({ path: '/actor', message: 'must be an actor id without whitespace' });
  if (!isDnsLabel(id)) errors.push({ path: '/id', message: 'must be a DNS-1123 label (e.g. tok-ci)' });
  const roles = Array.isArray(input?.roles) ? input.roles : [];
  if (roles.length === 0)
    errors.push({ path: '/roles', message: `must be a non-empty list of ${ACCESS_ROLES.join(', ')}` });
  roles.forEach((r, i) => {
    if (!(ACCESS_ROLES as readonly string[]).includes(r))
      errors.push({ path: `/roles/${i}`, message: `must be one of ${ACCESS_ROLES.join(', ')}` });
  });
  const rules = input?.rules ?? [];
  if (!Array.isArray(rules)) errors.push({ path: '/rules', message: 'must be a list of { environments, actions }' });
  else {
    rules.forEach((r, i) => {
      if (typeof r?.environments !== 'string' || !ENV_PATTERN.test(r.environments)) {
        errors.push({
          path: `/rules/${i}/environments`,
          message: 'must be an environment name pattern such as zain-* (lowercase, digits, -, *)',
        });
      }
      if (
        !Array.isArray(r?.actions) ||
        r.actions.length === 0 ||
        !r.actions.every((a: unknown) => typeof a === 'string' && ACTION_PATTERN.test(a))
      ) {
        errors.push({
          path: `/rules/${i}/actions`,
          message: 'must be a non-empty list of action names such as traffic.set, revision.* or *',
        });
      }
    });
  }
  if (errors.length > 0) throw invalid(`token ${id} is invalid`, errors);
}

export { GENESIS_HASH };
