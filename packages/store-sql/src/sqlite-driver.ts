import { StoreError } from '@greentic/store-contract';
import type Database from 'better-sqlite3';
import type { SqlDriver, SqlQueryable, SqlRow, SqlSyncQueryable } from './sql-driver';

/** Microtask ticks a batch waits, after it resolved its requests, for writes that follow straight from them. */
const DRAIN_TICKS = 16;
/** Longest run of back-to-back batches before the event loop gets its turn (timers, I/O, waiting reads). */
const MAX_TURN_MS = 10;

interface Pending {
  readonly fn: (tx: SqlQueryable) => Promise<unknown>;
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: unknown) => void;
}

/**
 * better-sqlite3 behind the driver seam, with group commit: every write request that arrives while the event
 * loop is busy joins the next transaction, each inside its own savepoint, and the whole group is made durable
 * by one COMMIT (one fsync under `synchronous=FULL`). Nothing resolves before that COMMIT returns, so an
 * acknowledged write is a durable write; throughput is not capped at one fsync per write.
 */
export class SqliteDriver implements SqlDriver {
  readonly dialect = 'sqlite' as const;
  /** Under `locking_mode = EXCLUSIVE` (how the store opens its file) no other connection can change the data. */
  readonly exclusive: boolean;
  private readonly statements = new Map<string, Database.Statement>();
  private readonly queue: Pending[] = [];
  private scheduled = false;
  private busy = false;
  private closed = false;
  private readonly idle: (() => void)[] = [];
  private readonly q: SqlQueryable;

  constructor(
    readonly db: Database.Database,
    private readonly maxBatch = 256,
  ) {
    this.exclusive = String(db.pragma('locking_mode', { simple: true })).toLowerCase() === 'exclusive';
    const sync: SqlSyncQueryable = {
      get: (sql, params = []) => this.prepare(sql).get(...params) as SqlRow | undefined,
      all: (sql, params = []) => this.prepare(sql).all(...params) as SqlRow[],
      run: (sql, params = []) => this.prepare(sql).run(...params).changes,
    };
    this.q = {
      get: async (sql, params) => sync.get(sql, params),
      all: async (sql, params) => sync.all(sql, params),
      run: async (sql, params) => sync.run(sql, params),
      sync,
    };
  }

  /** A cached prepared statement: each SQL text is compiled once per connection. */
  prepare(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  write<T>(fn: (tx: SqlQueryable) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(closedError());
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      this.schedule();
    });
  }

  async read<T>(fn: (q: SqlQueryable) => Promise<T>): Promise<T> {
    if (this.closed) throw closedError();
    // A batch runs entirely in microtasks, so this only waits when a read is issued from inside one.
    while (this.busy) await new Promise<void>((r) => this.idle.push(r));
    return fn(this.q);
  }

  async close(): Promise<void> {
    while (this.busy || this.queue.length > 0) await new Promise<void>((r) => this.idle.push(r));
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  private schedule(): void {
    if (this.scheduled || this.busy) return;
    this.scheduled = true;
    // setImmediate, not a microtask: every request issued in this turn of the event loop joins the group.
    setImmediate(() => {
      this.scheduled = false;
      void this.runBatch();
    });
  }

  private async runBatch(): Promise<void> {
    this.busy = true;
    const turnStarted = performance.now();
    for (;;) {
      await this.commitBatch(this.queue.splice(0, this.maxBatch));
      // The batch is durable and its requests resolved. Code continuing straight from those results (a sequential
      // writer's next write, the next round of concurrent writers) queues its writes within a few microtask ticks:
      // give it those ticks and commit what arrived without another trip round the event loop (a setImmediate turn
      // costs a sequential writer tens of microseconds per write). Nothing from I/O can arrive in between, so
      // requests from separate callbacks still group as before; reads issued meanwhile wait (busy) until the run
      // ends, which MAX_TURN_MS bounds.
      for (let i = 0; i < DRAIN_TICKS; i++) await undefined;
      if (this.queue.length === 0 || performance.now() - turnStarted > MAX_TURN_MS) break;
    }
    this.finishBatch();
  }

  /** One durable transaction for `batch`; every request's promise settles (after COMMIT for the good ones). */
  private async commitBatch(batch: Pending[]): Promise<void> {
    if (batch.length === 0) return;
    const outcomes: { ok: boolean; v: unknown }[] = [];
    try {
      this.db.exec('BEGIN IMMEDIATE');
      if (batch.length === 1 && batch[0]) {
        // Alone in its transaction, a request needs no savepoint: if it throws, the whole transaction is rolled
        // back, which leaves exactly as little trace (and skips two statements and the savepoint journal).
        try {
          outcomes.push({ ok: true, v: await batch[0].fn(this.q) });
        } catch (e) {
          if (this.db.inTransaction) this.db.exec('ROLLBACK');
          batch[0].reject(e);
          return;
        }
      } else {
        for (const p of batch) {
          this.db.exec('SAVEPOINT request');
          try {
            const v = await p.fn(this.q);
            this.db.exec('RELEASE request');
            outcomes.push({ ok: true, v });
          } catch (e) {
            this.db.exec('ROLLBACK TO request');
            this.db.exec('RELEASE request');
            outcomes.push({ ok: false, v: e });
          }
        }
      }
      this.db.exec('COMMIT');
    } catch (e) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      const err = new StoreError(
        'unavailable',
        `[store-sql] the write transaction could not be committed: ${String(e)}`,
        {},
        { cause: e },
      );
      for (const p of batch) p.reject(err);
      return;
    }
    batch.forEach((p, i) => {
      const o = outcomes[i];
      if (o?.ok) p.resolve(o.v);
      else p.reject(o?.v);
    });
  }

  private finishBatch(): void {
    this.busy = false;
    for (const r of this.idle.splice(0)) r();
    if (this.queue.length > 0) this.schedule();
  }
}

function closedError(): StoreError {
  return new StoreError('unavailable', '[store-sql] the store is closed');
}
