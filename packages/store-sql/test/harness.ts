import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StoreHarness } from '@greentic/store-contract/testing';
import pg from 'pg';
import { type CommitSync, openPostgresStore, openSqliteStore, type SqlStore, sqlTamper } from '../src/index';

export const POSTGRES_URL = process.env.GREENTIC_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A fresh SQLite file store in its own temporary directory (commits synced `inline` unless told otherwise). */
export async function sqliteHarness(commitSync: CommitSync = 'inline'): Promise<StoreHarness> {
  const dir = mkdtempSync(join(tmpdir(), 'greentic-store-'));
  const file = join(dir, 'store.db');
  let store: SqlStore = await openSqliteStore({ file, commitSync });
  let n = 0;
  return {
    get store() {
      return store;
    },
    get tamper() {
      return sqlTamper(store);
    },
    async reopen() {
      await store.close();
      store = await openSqliteStore({ file, commitSync });
      return store;
    },
    tempFile: (name) => join(dir, `${++n}-${name}`),
    async destroy() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A fresh Postgres store in its own random schema, dropped afterwards. */
export async function postgresHarness(): Promise<StoreHarness> {
  const schema = `greentic_test_${randomBytes(6).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'greentic-store-pg-'));
  let store: SqlStore;
  try {
    store = await openPostgresStore({ url: POSTGRES_URL, schema, maxConnections: 4 });
  } catch (e) {
    await dropSchema(schema);
    throw e;
  }
  let n = 0;
  return {
    get store() {
      return store;
    },
    get tamper() {
      return sqlTamper(store);
    },
    async reopen() {
      await store.close();
      store = await openPostgresStore({ url: POSTGRES_URL, schema, maxConnections: 4 });
      return store;
    },
    tempFile: (name) => join(dir, `${++n}-${name}`),
    async destroy() {
      await store.close();
      await dropSchema(schema);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function dropSchema(schema: string): Promise<void> {
  const c = new pg.Client({ connectionString: POSTGRES_URL });
  await c.connect();
  try {
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await c.end();
  }
}
