// The small seam between the store's verbs and a database. The verbs are written once, as plain SQL with `?`
// placeholders that both SQLite and Postgres understand (the Postgres driver rewrites them to `$n`), so the hot
// path runs prepared statements, never a query builder.

export type SqlRow = Record<string, unknown>;

/** Statements on one connection (inside a transaction when given to a write). */
export interface SqlQueryable {
  get(sql: string, params?: readonly unknown[]): Promise<SqlRow | undefined>;
  all(sql: string, params?: readonly unknown[]): Promise<SqlRow[]>;
  /** Run a statement; resolves to the number of rows changed. */
  run(sql: string, params?: readonly unknown[]): Promise<number>;
  /**
   * The same statements answered synchronously, for drivers whose database calls are synchronous anyway
   * (better-sqlite3): the write path uses them to skip a promise and a microtask turn per statement.
   */
  readonly sync?: SqlSyncQueryable;
  /**
   * Undo everything the current request wrote so far and let it go on, in the same transaction, from the state it
   * started in. A driver that offers it spares the store a savepoint of its own around work that may be refused
   * (the SQLite driver: `ROLLBACK TO` the request's savepoint in a group, `ROLLBACK` and `BEGIN` again when the
   * request is alone in its transaction, where no savepoint was taken). A request writes through `run` only: the
   * SQLite driver counts those statements to tell whether a request in a group without savepoints has written.
   */
  readonly undoRequest?: () => void;
}

/** {@link SqlQueryable} without the promises. */
export interface SqlSyncQueryable {
  get(sql: string, params?: readonly unknown[]): SqlRow | undefined;
  all(sql: string, params?: readonly unknown[]): SqlRow[];
  run(sql: string, params?: readonly unknown[]): number;
}

export interface SqlDriver {
  readonly dialect: 'sqlite' | 'postgres';
  /**
   * True when nothing but this driver's own connection can change the data (SQLite under `locking_mode =
   * EXCLUSIVE`): the store may then keep rows it verified until its next write.
   */
  readonly exclusive?: boolean;
  /**
   * Run `fn` as one request of a durable write transaction. The driver wraps each request in its own savepoint,
   * so a request that throws leaves no trace while others in the same (group) commit go through. Resolves only
   * after the transaction is committed durably.
   */
  write<T>(fn: (tx: SqlQueryable) => Promise<T>): Promise<T>;
  /** Run `fn` on a consistent snapshot (reads only). */
  read<T>(fn: (q: SqlQueryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
