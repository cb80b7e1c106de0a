import { StoreError } from '@greentic/store-contract';
import type pg from 'pg';
import type { SqlDriver, SqlQueryable, SqlRow } from './sql-driver';

const rewritten = new Map<string, string>();

/** `?` placeholders → `$1, $2, …` (the store's SQL never has `?` inside string literals). */
function toPg(sql: string): string {
  let out = rewritten.get(sql);
  if (out === undefined) {
    let n = 0;
    out = sql.replace(/\?/g, () => `$${++n}`);
    rewritten.set(sql, out);
  }
  return out;
}

function queryable(client: pg.ClientBase | pg.Pool): SqlQueryable {
  return {
    get: async (sql, params = []) => (await client.query(toPg(sql), params as unknown[])).rows[0] as SqlRow | undefined,
    all: async (sql, params = []) => (await client.query(toPg(sql), params as unknown[])).rows as SqlRow[],
    run: async (sql, params = []) => (await client.query(toPg(sql), params as unknown[])).rowCount ?? 0,
  };
}

/**
 * pg behind the driver seam. Each write request is its own transaction on a pooled connection; the store's
 * first statement in it locks the one `meta` state row (`FOR UPDATE`), which serializes writers across every
 * process on the database, so the audit chain and the generation never fork.
 */
export class PostgresDriver implements SqlDriver {
  readonly dialect = 'postgres' as const;
  private closed = false;

  constructor(readonly pool: pg.Pool) {}

  async write<T>(fn: (tx: SqlQueryable) => Promise<T>): Promise<T> {
    if (this.closed) throw closedError();
    const client = await this.connect();
    try {
      await client.query('BEGIN');
      const v = await fn(queryable(client));
      await client.query('COMMIT');
      return v;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  }

  async read<T>(fn: (q: SqlQueryable) => Promise<T>): Promise<T> {
    if (this.closed) throw closedError();
    const client = await this.connect();
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const v = await fn(queryable(client));
      await client.query('COMMIT');
      return v;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private async connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (e) {
      throw new StoreError(
        'unavailable',
        `[store-sql] cannot reach Postgres: ${(e as Error).message}`,
        {},
        { cause: e },
      );
    }
  }
}

function closedError(): StoreError {
  return new StoreError('unavailable', '[store-sql] the store is closed');
}
