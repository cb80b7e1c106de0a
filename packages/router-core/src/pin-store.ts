import { coarseNow } from './clock';

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
  /** The clock (default `coarseNow`: `Date.now` read at most every 25 ms while in use). */
  readonly now?: () => number;
}

/** The in-memory pin store: the same contract, answered synchronously. */
export interface MemoryPinStore extends PinStore {
  get(deploymentKey: string, sessionId: string): string | undefined;
  set(deploymentKey: string, sessionId: string, revisionId: string): void;
  countByRevision(deploymentKey: string): ReadonlyMap<string, number>;
}

/** One pin: a node of the store's LRU list (most recently used first) and a value of its deployment's map. */
interface Entry {
  revisionId: string;
  expiresAt: number;
  readonly sessionId: string;
  readonly deploymentKey: string;
  /** The deployment's session map holding this entry (null for the list's sentinel). */
  readonly bucket: Map<string, Entry> | null;
  prev: Entry;
  next: Entry;
}

/**
 * An in-process pin store: LRU with a sliding TTL, bounded by `maxEntries`. Reads are synchronous.
 *
 * Pins live in one map per deployment (looked up by the deployment key, then the session id: no key string is
 * built per request) and on one intrusive doubly linked list in order of last use, so a use costs two lookups
 * and a few pointer writes. Every use refreshes the TTL, so the list is also in order of expiry: expired pins
 * are swept from its tail.
 *
 * @example
 * const pins = createMemoryPinStore({ maxEntries: 10_000, ttlMs: 60_000 });
 * pins.set('acme/support', 'session-1', 'r7');
 * pins.get('acme/support', 'session-1'); // 'r7'
 */
export function createMemoryPinStore(options: MemoryPinStoreOptions = {}): MemoryPinStore {
  const maxEntries = options.maxEntries ?? 100_000;
  const ttlMs = options.ttlMs ?? 30 * 60_000;
  const now = options.now ?? coarseNow;
  if (!(maxEntries >= 1) || !(ttlMs >= 1)) {
    throw new TypeError('[router-core] memory pin store: maxEntries and ttlMs must be at least 1');
  }
  const buckets = new Map<string, Map<string, Entry>>();
  // The sentinel of the circular list: head.next is the most recently used pin, head.prev the least.
  const head = { revisionId: '', expiresAt: 0, sessionId: '', deploymentKey: '', bucket: null } as unknown as Entry;
  head.prev = head;
  head.next = head;
  let size = 0;

  const unlink = (e: Entry) => {
    e.prev.next = e.next;
    e.next.prev = e.prev;
  };
  const pushFront = (e: Entry) => {
    e.prev = head;
    e.next = head.next;
    head.next.prev = e;
    head.next = e;
  };
  const remove = (e: Entry) => {
    unlink(e);
    size--;
    const bucket = e.bucket!;
    bucket.delete(e.sessionId);
    if (bucket.size === 0) buckets.delete(e.deploymentKey);
  };
  /** Drop expired pins from the tail (the list is in expiry order) and the least recently used beyond the bound. */
  const sweep = (t: number) => {
    while (head.prev !== head && (size > maxEntries || head.prev.expiresAt <= t)) remove(head.prev);
  };

  return {
    get(deploymentKey, sessionId) {
      const entry = buckets.get(deploymentKey)?.get(sessionId);
      if (entry === undefined) return undefined;
      const t = now();
      if (entry.expiresAt <= t) {
        remove(entry);
        return undefined;
      }
      entry.expiresAt = t + ttlMs;
      if (head.next !== entry) {
        unlink(entry);
        pushFront(entry);
      }
      return entry.revisionId;
    },
    set(deploymentKey, sessionId, revisionId) {
      const t = now();
      let bucket = buckets.get(deploymentKey);
      if (bucket === undefined) {
        bucket = new Map();
        buckets.set(deploymentKey, bucket);
      }
      let entry = bucket.get(sessionId);
      if (entry === undefined) {
        entry = { revisionId, expiresAt: t + ttlMs, sessionId, deploymentKey, bucket, prev: head, next: head };
        bucket.set(sessionId, entry);
        size++;
      } else {
        entry.revisionId = revisionId;
        entry.expiresAt = t + ttlMs;
        unlink(entry);
      }
      pushFront(entry);
      sweep(t);
    },
    countByRevision(deploymentKey) {
      const t = now();
      sweep(t);
      const counts = new Map<string, number>();
      const bucket = buckets.get(deploymentKey);
      if (bucket === undefined) return counts;
      for (const entry of bucket.values()) {
        // A clock that stepped back can leave an expired pin off the tail; it is not counted.
        if (entry.expiresAt > t) counts.set(entry.revisionId, (counts.get(entry.revisionId) ?? 0) + 1);
      }
      return counts;
    },
  };
}
