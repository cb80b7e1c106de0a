import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHttpStore, type GreenticStore } from '@greentic/store-contract';
import type { StoreHarness } from '@greentic/store-contract/testing';
import { openPostgresStore, openSqliteStore, type SqlStore, sqlTamper } from '@greentic/store-sql';
import pg from 'pg';
import { fixedTokenDirectory, hashToken, mintToken, staticTokenProvider } from '../src/identity/static-tokens';
import { jsonLogger, silentLogger } from '../src/logger';
import { type RunningStoreServer, startStoreServer } from '../src/server';

export const POSTGRES_URL = process.env.GREENTIC_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** An admin identity kept outside the store, so the store under test starts empty (no bootstrap token). */
export function harnessIdentity() {
  const token = mintToken();
  const identity = staticTokenProvider(
    fixedTokenDirectory([{ actor: 'harness-admin', tokenHash: hashToken(token), grants: [{ role: 'admin' }] }]),
  );
  return { token, identity };
}

/**
 * A StoreHarness whose `store` is the HTTP client talking to a real server (port 0) over a real SQL store.
 * The client acts for the actor each call names (admin delegation) and does not hide 409 "still running"
 * behind retries, so the contract suite sees exactly what the server answers.
 */
async function httpHarness(
  open: () => Promise<SqlStore>,
  cleanup: () => Promise<void>,
  dir: string,
): Promise<StoreHarness> {
  const { token, identity } = harnessIdentity();
  let sql = await open();
  let server: RunningStoreServer = await startStoreServer({
    store: sql,
    port: 0,
    identity,
    logger: process.env.GREENTIC_TEST_LOGS ? jsonLogger() : silentLogger,
  });
  const client = (): GreenticStore =>
    createHttpStore({ baseUrls: server.url, token, actor: 'options', retry: { inFlight: false, attempts: 3 } });
  let store = client();
  let n = 0;
  return {
    get store() {
      return store;
    },
    get tamper() {
      return sqlTamper(sql);
    },
    async reopen() {
      await server.close();
      await sql.close();
      sql = await open();
      server = await startStoreServer({
        store: sql,
        port: 0,
        identity,
        logger: process.env.GREENTIC_TEST_LOGS ? jsonLogger() : silentLogger,
      });
      store = client();
      return store;
    },
    tempFile: (name) => join(dir, `${++n}-${name}`),
    async destroy() {
      await server.close();
      await sql.close();
      await cleanup();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** HTTP over a fresh SQLite file. */
export async function httpSqliteHarness(): Promise<StoreHarness> {
  const dir = mkdtempSync(join(tmpdir(), 'greentic-http-'));
  const file = join(dir, 'store.db');
  return httpHarness(
    () => openSqliteStore({ file }),
    async () => {},
    dir,
  );
}

/** HTTP over a fresh Postgres schema, dropped afterwards. */
export async function httpPostgresHarness(): Promise<StoreHarness> {
  const dir = mkdtempSync(join(tmpdir(), 'greentic-http-pg-'));
  const schema = `greentic_http_${randomBytes(6).toString('hex')}`;
  return httpHarness(
    () => openPostgresStore({ url: POSTGRES_URL, schema, maxConnections: 4 }),
    () => dropSchema(schema),
    dir,
  );
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
