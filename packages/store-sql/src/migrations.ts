import { StoreError } from '@greentic/store-contract';
import { type DatabaseIntrospector, type Kysely, SqliteAdapter, sql, type TableMetadata } from 'kysely';
import { type Migration, type MigrationProvider, Migrator } from 'kysely/migration';
import { GENESIS_HASH } from './audit-chain';

// Versioned migrations, one list for both dialects. The schema builder of kysely writes the DDL per dialect
// (column types, quoting); numbers are `bigint` so Postgres never overflows (its driver returns them as strings,
// which the store converts). Append new migrations; never edit a released one.

/** The store state kept in `meta`: the change counter and the audit chain's two ends. */
export interface StoreState {
  /** Grows by one with every applied change; part of every version tag. */
  readonly generation: number;
  readonly headSeq: number;
  readonly headHash: string;
  /** Where the chain starts after retention trimmed a prefix (0 / genesis when nothing was trimmed). */
  readonly anchorSeq: number;
  readonly anchorHash: string;
}

export const INITIAL_STATE: StoreState = {
  generation: 0,
  headSeq: 0,
  headHash: GENESIS_HASH,
  anchorSeq: 0,
  anchorHash: GENESIS_HASH,
};

// biome-ignore lint/suspicious/noExplicitAny: migrations run against the schema as it was, not a typed model.
type AnyDb = Kysely<any>;

export const MIGRATIONS: Record<string, Migration> = {
  '0001-objects-audit-ledger': {
    async up(db: AnyDb) {
      await db.schema
        .createTable('objects')
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('parent', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('digest', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('objects_pk', ['kind', 'key'])
        .execute();
      await db.schema.createIndex('objects_parent').on('objects').columns(['kind', 'parent']).execute();
      await db.schema
        .createTable('audit')
        .addColumn('seq', 'bigint', (c) => c.primaryKey())
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('environment', 'text')
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('entry', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('ledger')
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('fingerprint', 'text', (c) => c.notNull())
        .addColumn('request_id', 'text', (c) => c.notNull())
        .addColumn('result', 'text', (c) => c.notNull())
        .addColumn('created_ms', 'bigint', (c) => c.notNull())
        .addColumn('gen', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('ledger_pk', ['actor', 'key'])
        .execute();
      await db.schema.createIndex('ledger_gen').on('ledger').column('gen').execute();
      await db.schema
        .createTable('meta')
        .addColumn('k', 'text', (c) => c.primaryKey())
        .addColumn('v', 'text', (c) => c.notNull())
        .execute();
      await db
        .insertInto('meta')
        .values({ k: 'state', v: JSON.stringify(INITIAL_STATE) })
        .execute();
    },
  },
  // SQLite only: `seq bigint primary key` is not an alias of the rowid, so every audit append also wrote a separate
  // primary-key index (one more b-tree page per durable write). `integer primary key` makes `seq` the rowid itself:
  // same values, same uniqueness, one b-tree. The table is rebuilt in one transaction (re-running it is harmless).
  // Postgres keeps `bigint`, which is already the table's own key.
  '0002-sqlite-audit-seq-rowid': {
    async up(db: AnyDb) {
      if (!(db.getExecutor().adapter instanceof SqliteAdapter)) return;
      await db.transaction().execute(async (trx) => {
        await trx.schema.dropTable('audit_rowid').ifExists().execute();
        await trx.schema
          .createTable('audit_rowid')
          .addColumn('seq', 'integer', (c) => c.primaryKey())
          .addColumn('at', 'text', (c) => c.notNull())
          .addColumn('actor', 'text', (c) => c.notNull())
          .addColumn('environment', 'text')
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('outcome', 'text', (c) => c.notNull())
          .addColumn('entry', 'text', (c) => c.notNull())
          .addColumn('hash', 'text', (c) => c.notNull())
          .execute();
        await sql`INSERT INTO audit_rowid (seq, at, actor, environment, action, outcome, entry, hash)
          SELECT seq, at, actor, environment, action, outcome, entry, hash FROM audit ORDER BY seq`.execute(trx);
        await trx.schema.dropTable('audit').execute();
        await trx.schema.alterTable('audit_rowid').renameTo('audit').execute();
      });
    },
  },
};

export const SCHEMA_VERSION = Object.keys(MIGRATIONS).length;

/**
 * The oldest schema version whose backups this build restores. A backup is a logical export (objects, audit, state),
 * so a migration that only changes the physical layout (like 0002) leaves it readable; raise this when a migration
 * changes what a backup holds.
 */
export const BACKUP_COMPATIBLE_SINCE = 1;

/** Bring the schema up to date; resolves to the schema version (number of applied migrations). */
export async function migrate(db: AnyDb, label: string, schema?: string): Promise<number> {
  // A database written by a newer build has migrations this one does not know: refuse before touching it.
  const known = await sql<{ name: string }>`select name from kysely_migration`.execute(db).then(
    (r) => r.rows.map((row) => row.name),
    () => [] as string[], // a fresh database has no migration table yet
  );
  const unknown = known.filter((name) => !(name in MIGRATIONS));
  if (unknown.length > 0) {
    throw new StoreError(
      'unavailable',
      `[store-sql] ${label}: the database has migrations this build does not know (${unknown.join(', ')}); it was written by a newer @greentic/store-sql: upgrade this one`,
    );
  }
  const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS };
  // Postgres: name the schema, or kysely would take another schema's migration tables for ours; and let kysely look
  // for its tables in that schema only (see `scopedToSchema`).
  const migrator =
    schema === undefined
      ? new Migrator({ db, provider })
      : new Migrator({ db: scopedToSchema(db, schema), provider, migrationTableSchema: schema });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new StoreError(
      'unavailable',
      `[store-sql] ${label}: migration ${failed} failed: ${String(error)}`,
      {},
      { cause: error },
    );
  }
  const rows = await sql<{ n: number | string }>`select count(*) as n from kysely_migration`.execute(db);
  const applied = Number(rows.rows[0]?.n ?? 0);
  if (applied > SCHEMA_VERSION) {
    throw new StoreError(
      'unavailable',
      `[store-sql] ${label}: the database has schema version ${applied}, newer than this build (${SCHEMA_VERSION}); upgrade @greentic/store-sql`,
    );
  }
  return applied;
}

/**
 * `db` as kysely's migrator sees it, with an introspector that lists the tables of `schema` only. kysely's own
 * Postgres introspector reads every column of every table in every schema, calling `pg_get_serial_sequence` and
 * `has_schema_privilege` on each: that fails when another schema or table is dropped meanwhile (42P01 or 3F000
 * naming the other schema; seen when another store's test schema was removed during this one's start), and it
 * grows with everything else the database holds. The migrator only asks whether its two tables exist.
 */
function scopedToSchema(db: AnyDb, schema: string): AnyDb {
  const getTables = async (): Promise<TableMetadata[]> => {
    const r = await sql<{ name: string; type: string }>`
      select table_name as name, table_type as type from information_schema.tables where table_schema = ${schema}
    `.execute(db);
    return r.rows.map((row) => ({
      name: row.name,
      schema,
      isView: row.type === 'VIEW',
      isForeign: row.type === 'FOREIGN',
      columns: [],
    }));
  };
  const introspection: DatabaseIntrospector = {
    getSchemas: () => db.introspection.getSchemas(),
    getTables,
  };
  return new Proxy(db, {
    get(target, prop) {
      if (prop === 'introspection') return introspection;
      const value: unknown = Reflect.get(target, prop, target);
      // kysely's methods read private fields: call them on the instance itself, not on the proxy.
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
