/** A value now (in-memory stores) or later (network stores): the router stays synchronous when it can. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * Where session pins live: session id → revision id, scoped by deployment (`tenant/name`).
 * Implementations: `createMemoryPinStore` here (one process), a Redis store in the dispatcher (shared).
 */
export interface PinStore {
  /** The revision `sessionId` is pinned to in `deploymentKey`, if any and not expired. */
  get(deploymentKey: string, sessionId: string): MaybePromise<string | undefined>;
  /** Pin `sessionId` to `revisionId` (replacing an older pin), for the store's TTL. */
  set(deploymentKey: string, sessionId: string, revisionId: string): MaybePromise<void>;
  /** Live pins per revision id in `deploymentKey`, so a drain knows when a revision is empty. */
  countByRevision(deploymentKey: string): MaybePromise<ReadonlyMap<string, number>>;
  /** Release connections (network stores). */
  close?(): Promise<void>;
}

/** Options of the in-memory pin store. */
export interface MemoryPinStoreOptions {
  /** Most pins kept; the least recently used is evicted first (default 100000). */
  readonly maxEntries?: number;
  /** Lifetime of a pin after its last use, in milliseconds (default 30 minutes). */
  readonly ttlMs?: number;
  /** The clock (default `Date.now`). */
  readonly now?: () => number;
}

/** The in-memory pin store: the same contract, answered synchronously. */
export interface MemoryPinStore extends PinStore {
  get(deploymentKey: string, sessionId: string): string | undefined;
  set(deploymentKey: string, sessionId: string, revisionId: string): void;
  countByRevision(deploymentKey: string): ReadonlyMap<string, number>;
}

interface Entry {
  revisionId: string;
  expiresAt: number;
  readonly deploymentKey: string;
}

/**
 * An in-process pin store: LRU with a sliding TTL, bounded by `maxEntries`. Reads are synchronous.
 *
 * @example
 * const pins = createMemoryPinStore({ maxEntries: 10_000, ttlMs: 60_000 });
 * pins.set('acme/support', 'session-1', 'r7');
 * pins.get('acme/support', 'session-1'); // 'r7'
 */
export function createMemoryPinStore(options: MemoryPinStoreOptions = {}): MemoryPinStore {
  const maxEntries = options.maxEntries ?? 100_000;
  const ttlMs = options.ttlMs ?? 30 * 60_000;
  const now = options.now ?? Date.now;
  if (!(maxEntries >= 1) || !(ttlMs >= 1)) {
    throw new TypeError('[router-core] memory pin store: maxEntries and ttlMs must be at least 1');
  }
  const refreshMs = Math.min(1000, Math.floor(ttlMs / 10));
  // A Map iterates in insertion order: re-inserting on use keeps the least recently used first.
  const entries = new Map<string, Entry>();
  return {
    get(deploymentKey, sessionId) {
      const key = deploymentKey + '\n' + sessionId;
      const entry = entries.get(key);
      if (entry === undefined) return undefined;
      const t = now();
      if (entry.expiresAt <= t) {
        entries.delete(key);
        return undefined;
      }
      // Refresh the TTL and the LRU position at most once per `refreshMs`: a hot session costs a lookup, not a
      // Map delete + insert per request (the LRU order is exact to within `refreshMs`).
      if (t + ttlMs - entry.expiresAt >= refreshMs) {
        entry.expiresAt = t + ttlMs;
        entries.delete(key);
        entries.set(key, entry);
      }
      return entry.revisionId;
    },
    set(deploymentKey, sessionId, revisionId) {
      const key = deploymentKey + '\n' + sessionId;
      const entry = entries.get(key);
      if (entry !== undefined) entries.delete(key);
      entries.set(key, { revisionId, expiresAt: now() + ttlMs, deploymentKey });
      while (entries.size > maxEntries) {
        const oldest = entries.keys().next();
        if (oldest.done) break;
        entries.delete(oldest.value);
      }
    },
    countByRevision(deploymentKey) {
      const t = now();
      const counts = new Map<string, number>();
      for (const [key, entry] of entries) {
        if (entry.expiresAt <= t) {
          entries.delete(key);
          continue;
        }
        if (entry.deploymentKey !== deploymentKey) continue;
        counts.set(entry.revisionId, (counts.get(entry.revisionId) ?? 0) + 1);
      }
      return counts;
    },
  };
}
