// @greentic/store-sql: the Greentic deploy store on SQL. SQLite (embedded default) and Postgres (scale).

export type { ChainBounds, StoredAuditRow } from './audit-chain';
export { GENESIS_HASH, verifyChain } from './audit-chain';
export { MIGRATIONS, SCHEMA_VERSION } from './migrations';
export type { PostgresStoreOptions, SqliteStoreOptions } from './open';
export { openPostgresStore, openSqliteStore } from './open';
export type { LedgerBounds } from './sql-store';
export { SqlStore, storedJson } from './sql-store';
export type { CommitSync } from './sqlite-driver';
export { sqlTamper } from './tamper';
