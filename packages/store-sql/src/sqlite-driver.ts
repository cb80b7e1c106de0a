import { closeSync, fdatasync, openSync } from 'node:fs';
import { StoreError } from '@greentic/store-contract';
import type Database from 'better-sqlite3';
import type { SqlDriver, SqlQueryable, SqlRow, SqlSyncQueryable } from './sql-driver';

/** Microtask ticks a batch waits, after it resolved its requests, for writes that follow straight from them. */
const DRAIN_TICKS = 16;
/** Longest run of back-to-back batches before the event loop gets its turn (timers, I/O, waiting reads). */
const MAX_TURN_MS = 10;
/**
 * Background mode: how long the next group gathers behind the WAL sync in flight before it commits anyway, its
 * own sync then running beside the slow one (at most {@link MAX_SYNCS} at once). Bounds what one slow sync adds
 * to the latency of the writes behind it.
 */
const HOLD_MS = 1;
const MAX_SYNCS = 2;

/**
 * How a group commit is made durable before it is acknowledged.
 * - `inline`: SQLite's `synchronous=FULL` syncs the WAL inside COMMIT, on the calling thread. Fewest steps, so
 *   the fastest for a lone writer; the event loop waits for the disk at every commit.
 * - `background`: the connection runs `synchronous=NORMAL` (COMMIT writes the WAL but does not sync it) and the
 *   driver `fdatasync`s the WAL file on libuv's thread pool, resolving the batch's requests only once that sync
 *   returned. The event loop serves other requests meanwhile and the next group commits while the disk syncs the
 *   previous one (one sync in flight covers every batch committed before it started). Reads wait for the syncs
 *   of every commit before them, so nothing is ever seen before it is durable. For servers with many writers.
 */
export type CommitSync = 'inline' | 'background';

/** The sync the `background` mode runs, replaceable in tests: `fs.fdatasync`. */
export type WalSync = (fd: number, done: (err: NodeJS.ErrnoException | null) => void) => void;

export interface SqliteDriverOptions {
  /** Most write requests one group commit may carry (default 256). */
  readonly maxBatch?: number;
  /** How a group commit is made durable (default `inline`). */
  readonly commitSync?: CommitSync;
  /** For tests: the WAL sync of the `background` mode (default `fs.fdatasync`). */
  readonly walSync?: WalSync;
}

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
  /**
   * How the requests of the running transaction are kept apart: `alone` (one request, no savepoint), `optimistic`
   * (a group without savepoints), `savepoints` (a group, a savepoint each).
   */
  private mode: 'alone' | 'optimistic' | 'savepoints' = 'alone';
  /** Statements run through `run` so far, and their count when the running request started. */
  private runs = 0;
  private runsAtStart = 0;
  private readonly idle: (() => void)[] = [];
  private readonly q: SqlQueryable;
  private readonly maxBatch: number;
  /** Background mode only: batches committed, batches known durable, and who waits for which. */
  private readonly background: boolean;
  private readonly walSync: WalSync;
  private walFd: number | undefined;
  private committed = 0;
  private synced = 0;
  /** Highest batch a started sync covers, syncs in flight, when the last one started, the hold's timer. */
  private syncTarget = 0;
  private syncs = 0;
  private lastSyncStart = 0;
  private holdTimer: NodeJS.Timeout | undefined;
  private syncFailure: StoreError | undefined;
  private readonly afterSync: { readonly seq: number; readonly run: (failure?: StoreError) => void }[] = [];

  constructor(
    readonly db: Database.Database,
    options: SqliteDriverOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 256;
    this.background = options.commitSync === 'background';
    this.walSync = options.walSync ?? fdatasync;
    // NORMAL in WAL mode: COMMIT appends to the WAL without syncing it; checkpoints still sync. The driver syncs
    // the WAL itself before it acknowledges anything (see CommitSync).
    if (this.background) db.pragma('synchronous = NORMAL');
    this.exclusive = String(db.pragma('locking_mode', { simple: true })).toLowerCase() === 'exclusive';
    const sync: SqlSyncQueryable = {
      get: (sql, params = []) => this.prepare(sql).get(...params) as SqlRow | undefined,
      all: (sql, params = []) => this.prepare(sql).all(...params) as SqlRow[],
      run: (sql, params = []) => {
        this.runs++;
        return this.prepare(sql).run(...params).changes;
      },
    };
    this.q = {
      get: async (sql, params) => sync.get(sql, params),
      all: async (sql, params) => sync.all(sql, params),
      run: async (sql, params) => sync.run(sql, params),
      sync,
      undoRequest: () => {
        if (this.mode === 'optimistic') {
          // Without savepoints, only a request that has not written anything yet can be undone in place; for any
          // other the group starts over, a savepoint each (see commitBatch).
          if (this.runs !== this.runsAtStart) throw new RegroupWithSavepoints();
          return;
        }
        if (this.mode === 'savepoints') {
          this.db.exec('ROLLBACK TO request');
          return;
        }
        // Alone in its transaction: the transaction holds nothing but this request's work. The exclusive lock
        // stays with this connection throughout, so the request resumes on exactly the state it started from.
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        this.db.exec('BEGIN IMMEDIATE');
      },
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
    if (this.syncFailure) return Promise.reject(this.syncFailure);
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      this.schedule();
    });
  }

  async read<T>(fn: (q: SqlQueryable) => Promise<T>): Promise<T> {
    if (this.closed) throw closedError();
    // A batch runs entirely in microtasks, so this only waits when a read is issued from inside one.
    while (this.busy) await new Promise<void>((r) => this.idle.push(r));
    // Background mode: what is committed but not yet synced is not shown; wait for the commits before this read.
    if (this.synced < this.committed) await this.durable(this.committed);
    if (this.closed) throw closedError();
    return fn(this.q);
  }

  async close(): Promise<void> {
    while (this.busy || this.queue.length > 0) await new Promise<void>((r) => this.idle.push(r));
    if (this.synced < this.committed && !this.syncFailure) await this.durable(this.committed).catch(() => undefined);
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.holdTimer);
    if (this.walFd !== undefined) closeSync(this.walFd);
    this.db.close();
  }

  /** Resolves once batch `seq` is durable; rejects when the WAL sync failed. */
  private durable(seq: number): Promise<void> {
    return new Promise<void>((resolve, reject) =>
      this.onDurable(seq, (failure) => (failure ? reject(failure) : resolve())),
    );
  }

  private onDurable(seq: number, run: (failure?: StoreError) => void): void {
    if (this.syncFailure) run(this.syncFailure);
    else if (seq <= this.synced) run();
    else {
      this.afterSync.push({ seq, run });
      this.startSync();
    }
  }

  /**
   * Start a WAL sync covering every batch committed so far: when none is in flight, or when the one in flight has
   * run longer than the hold (then both run; either completing makes what it covers durable).
   */
  private startSync(): void {
    if (this.syncFailure || this.syncTarget >= this.committed || this.syncs >= MAX_SYNCS) return;
    if (this.syncs > 0 && performance.now() - this.lastSyncStart < HOLD_MS) return;
    this.syncs++;
    this.lastSyncStart = performance.now();
    const target = this.committed;
    this.syncTarget = target;
    let fd: number;
    try {
      // Kept open while the store is: under the exclusive lock the WAL file is reused, never replaced.
      fd = this.walFd ??= openSync(`${this.db.name}-wal`, 'r');
    } catch (e) {
      this.syncDone(target, e as Error);
      return;
    }
    this.walSync(fd, (err) => this.syncDone(target, err));
  }

  private syncDone(target: number, err: Error | null): void {
    this.syncs--;
    if (err) {
      if (this.syncFailure) return;
      // After a failed sync the kernel may have dropped the dirty pages: nothing unsynced can be trusted to be on
      // disk, so every waiting request fails and the store takes no further writes (restart it; SQLite recovers
      // the WAL up to its last intact commit).
      this.syncFailure = new StoreError(
        'unavailable',
        `[store-sql] the disk refused to sync ${this.db.name}-wal (${err.message}); writes since the last sync may not be durable, so this store takes no more writes: restart it`,
        {},
        { cause: err },
      );
      for (const w of this.afterSync.splice(0)) w.run(this.syncFailure);
      for (const p of this.queue.splice(0)) p.reject(this.syncFailure);
      return;
    }
    if (this.syncFailure) return;
    // A sync returns only once everything written to the file before it started is on disk.
    this.synced = Math.max(this.synced, target);
    while (this.afterSync.length > 0 && (this.afterSync[0]?.seq ?? Number.POSITIVE_INFINITY) <= this.synced) {
      this.afterSync.shift()?.run();
    }
    this.startSync();
    if (this.queue.length > 0) this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.busy) return;
    // Background mode: while the disk syncs the last group, the next one gathers (the event loop is free to take
    // requests), so each commit carries as many writes as arrived meanwhile; syncDone schedules it, or the hold
    // timer when the sync is slow.
    if (this.syncs > 0) {
      const wait = HOLD_MS - (performance.now() - this.lastSyncStart);
      if (wait > 0) {
        this.holdTimer ??= setTimeout(() => {
          this.holdTimer = undefined;
          this.schedule();
        }, wait);
        return;
      }
    }
    if (this.holdTimer !== undefined) {
      clearTimeout(this.holdTimer);
      this.holdTimer = undefined;
    }
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
      if (this.queue.length === 0 || this.syncs > 0 || performance.now() - turnStarted > MAX_TURN_MS) break;
    }
    this.finishBatch();
  }

  /** One durable transaction for `batch`; every request's promise settles (after COMMIT for the good ones). */
  private async commitBatch(batch: Pending[]): Promise<void> {
    if (batch.length === 0) return;
    const outcomes: { ok: boolean; v: unknown }[] = [];
    try {
      this.db.exec('BEGIN IMMEDIATE');
      this.mode = batch.length === 1 ? 'alone' : 'optimistic';
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
      } else if (!(await this.runOptimistic(batch, outcomes))) {
        // A request threw, or asked to undo what it had written: start the group over, each request in a savepoint
        // of its own, so it leaves no trace while the others go through. Requests run again from the start of the
        // transaction: a request's work must be its statements (plus caches it may keep of what it wrote).
        this.db.exec('ROLLBACK');
        this.db.exec('BEGIN IMMEDIATE');
        this.mode = 'savepoints';
        outcomes.length = 0;
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
      this.committed++;
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
    const settle = (failure?: StoreError): void =>
      batch.forEach((p, i) => {
        const o = outcomes[i];
        if (failure && o?.ok) p.reject(failure);
        else if (o?.ok) p.resolve(o.v);
        else p.reject(o?.v);
      });
    if (this.background) this.onDurable(this.committed, settle);
    else settle();
  }

  /**
   * Run a group without savepoints (a savepoint each costs every request a copy of each page it touches): true
   * when every request returned and none had to undo written work, false as soon as one threw or did.
   */
  private async runOptimistic(batch: Pending[], outcomes: { ok: boolean; v: unknown }[]): Promise<boolean> {
    for (const p of batch) {
      this.runsAtStart = this.runs;
      try {
        outcomes.push({ ok: true, v: await p.fn(this.q) });
      } catch {
        return false;
      }
    }
    return true;
  }

  private finishBatch(): void {
    this.busy = false;
    for (const r of this.idle.splice(0)) r();
    if (this.queue.length > 0) this.schedule();
  }
}

/** Thrown by `undoRequest` inside an optimistic group whose request has written: the group starts over. */
class RegroupWithSavepoints extends Error {
  constructor() {
    super('[store-sql] internal: the group runs again with a savepoint per request');
  }
}

function closedError(): StoreError {
  return new StoreError('unavailable', '[store-sql] the store is closed');
}
