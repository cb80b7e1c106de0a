import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GreenticStore } from '@greentic/store-contract';
import { openSqliteStore, type SqlStore } from '@greentic/store-sql';
import { hashToken, mintToken } from '../src/identity/static-tokens';
import type { Logger } from '../src/logger';
import { type RunningStoreServer, type StartStoreServerOptions, startStoreServer } from '../src/server';

/** Log lines captured in memory, to assert what the server writes (and what it never writes). */
export function captureLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push =
    (level: string) =>
    (msg: string, fields: Readonly<Record<string, unknown>> = {}) => {
      lines.push(JSON.stringify({ level, msg, ...fields }));
    };
  return { lines, info: push('info'), warn: push('warn'), error: push('error') };
}

export interface ServerFixture {
  readonly server: RunningStoreServer;
  readonly sql: SqlStore;
  readonly adminToken: string;
  readonly dir: string;
  readonly logger: ReturnType<typeof captureLogger>;
  /** fetch against the server with the admin token unless `token` is given (null: no Authorization). */
  call(path: string, init?: RequestInit & { token?: string | null }): Promise<Response>;
  /** Mint a token with roles/rules through the admin API; returns the secret. */
  token(actor: string, roles: string[], rules?: unknown[]): Promise<string>;
  close(): Promise<void>;
}

/** A real server on port 0 over a fresh SQLite file, bootstrapped with a known admin token. */
export async function startFixture(
  extra: Partial<StartStoreServerOptions> & { wrap?: (store: SqlStore) => GreenticStore } = {},
): Promise<ServerFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'greentic-server-'));
  const sql = await openSqliteStore({ file: join(dir, 'store.db') });
  const adminToken = mintToken();
  const logger = captureLogger();
  const { wrap, ...options } = extra;
  const server = await startStoreServer({
    store: wrap ? wrap(sql) : sql,
    port: 0,
    adminToken,
    logger,
    ...options,
  });
  const call: ServerFixture['call'] = (path, init = {}) => {
    const { token, headers, ...rest } = init;
    const h = new Headers(headers);
    const t = token === undefined ? adminToken : token;
    if (t !== null) h.set('authorization', `Bearer ${t}`);
    if (rest.body !== undefined && !h.has('content-type')) h.set('content-type', 'application/json');
    return fetch(`${server.url}${path}`, { ...rest, headers: h });
  };
  return {
    server,
    sql,
    adminToken,
    dir,
    logger,
    call,
    async token(actor, roles, rules = []) {
      const secret = mintToken();
      const res = await call('/v1/admin/tokens', {
        method: 'POST',
        body: JSON.stringify({ hash: hashToken(secret), actor, roles, rules }),
      });
      if (res.status !== 201) throw new Error(`token: ${res.status} ${await res.text()}`);
      return secret;
    },
    async close() {
      await server.close();
      await sql.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const env = (name: string, config: Record<string, unknown> = {}) => JSON.stringify({ name, slots: {}, config });
