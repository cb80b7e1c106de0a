import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { StoreError } from '@greentic/store-contract';
import Database from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { migrate } from './migrations';
import { PostgresDriver } from './postgres-driver';
import { type LedgerBounds, SqlStore } from './sql-store';
import { type CommitSync, SqliteDriver } from './sqlite-driver';

export interface SqliteStoreOptions {
  /** Path of the database file (created when absent). */
  readonly file: string;
  /** Bounds of the idempotency ledger. */
  readonly ledger?: LedgerBounds;
  /** Most write requests one group commit may carry (default 256). */
  readonly maxBatch?: number;
  /**
   * How a group commit is made durable before it is acknowledged (default `inline`): `inline` syncs inside
   * COMMIT (`synchronous=FULL`); `background` syncs the WAL on the thread pool while the event loop goes on and
   * the next group commits (for servers with many concurrent writers). Both acknowledge only durable writes.
   */
  readonly commitSync?: CommitSync;
}

/**
 * Open (or create) the embedded SQLite store: WAL, `synchronous=FULL`, foreign keys on, migrations applied,
 * every object verified. The file is held with an exclusive lock for as long as the store is open: a second
 * process that opens it is refused with `unavailable` and never touches the data.
 *
 * @example
 * const store = await openSqliteStore({ file: '.greentic/store.db' });
 * await store.putEnvironment({ name: 'local', slots: {}, config: {} }, { actor: 'me', idempotencyKey: crypto.randomUUID() });
 * await store.close();
 */
export async function openSqliteStore(options: SqliteStoreOptions): Promise<SqlStore> {
  const file = resolve(options.file);
  mkdirSync(dirname(file), { recursive: true });
  let db: Database.Database;
  try {
    // A short busy timeout: waiting for another writer's lock would only delay the refusal.
    db = new Database(file, { timeout: 250 });
  } catch (e) {
    throw new StoreError('unavailable', `[store-sql] cannot open ${file}: ${(e as Error).message}`, {}, { cause: e });
  }
  try {
    // EXCLUSIVE locking: this connection keeps the file lock until it closes, so no other process can read or
    // write behind the store's back (and WAL needs no shared-memory index).
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.exec('BEGIN IMMEDIATE');
    db.exec('COMMIT');
  } catch (e) {
    db.close();
    const code = (e as { code?: string }).code ?? '';
    if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
      throw new StoreError(
        'unavailable',
        `[store-sql] ${file} is already open for writing by another process; SQLite allows one writer: stop the other process, or point both at one store server or at Postgres`,
        {},
        { cause: e },
      );
    }
    throw new StoreError('unavailable', `[store-sql] cannot open ${file}: ${(e as Error).message}`, {}, { cause: e });
  }
  const kysely = new Kysely<unknown>({ dialect: new SqliteDialect({ database: db }) });
  let schemaVersion: number;
  try {
    schemaVersion = await migrate(kysely, file);
  } catch (e) {
    db.close();
    throw e;
  }
  const driver = new SqliteDriver(db, {
    ...(options.maxBatch === undefined ? {} : { maxBatch: options.maxBatch }),
    ...(options.commitSync === undefined ? {} : { commitSync: options.commitSync }),
  });
  return SqlStore.open(driver, {
    label: file,
    schemaVersion,
    ...(options.ledger === undefined ? {} : { ledger: options.ledger }),
    engineCheck: async () => {
      const rows = db.pragma('quick_check') as { quick_check: string }[];
      return rows.map((r) => r.quick_check).filter((r) => r !== 'ok');
    },
  });
}

export interface PostgresStoreOptions {
  /** A connection string, e.g. `postgres://postgres@127.0.0.1:5432/test`. */
  readonly url: string;
  /** The schema holding the store's tables (created when absent; default `greentic`). */
  readonly schema?: string;
  readonly ledger?: LedgerBounds;
  /** Pool size (default 10). */
  readonly maxConnections?: number;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Open the Postgres store: same migrations and behaviour as SQLite; several processes may share one database
 * (writes serialize on one row lock, so the audit chain never forks).
 *
 * @example
 * const store = await openPostgresStore({ url: 'postgres://postgres@127.0.0.1:5432/test', schema: 'greentic' });
 */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<SqlStore> {
  const schema = options.schema ?? 'greentic';
  if (!SCHEMA_NAME.test(schema)) {
    throw new StoreError('invalid', `[store-sql] schema "${schema}" must be a lowercase SQL identifier`, {
      errors: [{ path: '/schema', message: 'must match [a-z_][a-z0-9_]{0,62}' }],
    });
  }
  const label = `postgres schema ${schema}`;
  const setup = new pg.Client({ connectionString: options.url });
  try {
    await setup.connect();
    await setup.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  } catch (e) {
    throw new StoreError(
      'unavailable',
      `[store-sql] cannot reach Postgres for ${label}: ${(e as Error).message}`,
      {},
      { cause: e },
    );
  } finally {
    await setup.end().catch(() => undefined);
  }
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.maxConnections ?? 10,
    options: `-c search_path="${schema}"`,
  });
  pool.on('error', () => undefined); // idle-client errors surface on the next query as `unavailable`
  const kysely = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) });
  let schemaVersion: number;
  try {
    schemaVersion = await migrate(kysely, label, schema);
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw e;
  }
  return SqlStore.open(new PostgresDriver(pool), {
    label,
    schemaVersion,
    ...(options.ledger === undefined ? {} : { ledger: options.ledger }),
    onClose: () => pool.end(),
  });
}
