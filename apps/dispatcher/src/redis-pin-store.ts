import type { PinStore } from '@greentic/router-core';
import { Redis } from 'ioredis';

/** Options of the Redis pin store. */
export interface RedisPinStoreOptions {
  /** `redis://127.0.0.1:6379/0`. Credentials in the URL are never logged. */
  readonly url: string;
  /** Prefix of every key (default `greentic:pins:`); dispatchers sharing pins use the same prefix. */
  readonly keyPrefix?: string;
  /** Lifetime of a pin after its last use, in ms (default 30 minutes). */
  readonly ttlMs?: number;
  /** The clock (default `Date.now`). */
  readonly now?: () => number;
}

// Keys: <p>pin:<deployment>:<session> → revision (PX ttl, refreshed on use);
// <p>count:<deployment>:<revision> → sorted set of sessions scored by expiry (for pinned-session counts);
// <p>revs:<deployment> → set of revisions that have had pins.
const GET_SCRIPT = `
local rev = redis.call('GET', KEYS[1])
if rev then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  redis.call('ZADD', ARGV[3] .. rev, 'XX', ARGV[2], ARGV[4])
  redis.call('PEXPIRE', ARGV[3] .. rev, ARGV[1])
  redis.call('PEXPIRE', ARGV[5], ARGV[1])
end
return rev`;
const SET_SCRIPT = `
local old = redis.call('GET', KEYS[1])
if old and old ~= ARGV[1] then redis.call('ZREM', ARGV[4] .. old, ARGV[5]) end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('PEXPIRE', KEYS[3], ARGV[2])
return 1`;
const COUNT_SCRIPT = `
local revs = redis.call('SMEMBERS', KEYS[1])
local out = {}
for _, rev in ipairs(revs) do
  local key = ARGV[2] .. rev
  redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[1])
  table.insert(out, rev)
  table.insert(out, redis.call('ZCARD', key))
end
return out`;

/** A pin store shared by every dispatcher replica: the Redis store plus `clear` for tests and operators. */
export interface RedisPinStore extends PinStore {
  /** Remove every key under this store's prefix (tests use a unique prefix per run). */
  clear(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Session pins in Redis, shared by every dispatcher replica. Each operation is one round trip (a Lua script),
 * and a pin's TTL slides on use so an active session never loses its revision.
 *
 * @example
 * const pins = createRedisPinStore({ url: 'redis://127.0.0.1:6379', keyPrefix: 'greentic:pins:' });
 * await pins.set('acme/support', 'conversation-1', 'r7');
 * await pins.get('acme/support', 'conversation-1'); // 'r7'
 */
export function createRedisPinStore(options: RedisPinStoreOptions): RedisPinStore {
  const prefix = options.keyPrefix ?? 'greentic:pins:';
  const ttlMs = options.ttlMs ?? 30 * 60_000;
  const now = options.now ?? Date.now;
  const redis = new Redis(options.url, { lazyConnect: false, maxRetriesPerRequest: 2, enableAutoPipelining: true });
  // Errors surface on the commands that fail; an idle reconnect must not crash the process or log the URL.
  redis.on('error', () => {});
  const pinKey = (d: string, s: string) => `${prefix}pin:${d}:${s}`;
  const countPrefix = (d: string) => `${prefix}count:${d}:`;
  const revsKey = (d: string) => `${prefix}revs:${d}`;
  return {
    async get(d, s) {
      const t = now();
      const rev = (await redis.eval(GET_SCRIPT, 1, pinKey(d, s), ttlMs, t + ttlMs, countPrefix(d), s, revsKey(d))) as
        | string
        | null;
      return rev ?? undefined;
    },
    async set(d, s, revision) {
      await redis.eval(
        SET_SCRIPT,
        3,
        pinKey(d, s),
        countPrefix(d) + revision,
        revsKey(d),
        revision,
        ttlMs,
        now() + ttlMs,
        countPrefix(d),
        s,
      );
    },
    async countByRevision(d) {
      const flat = (await redis.eval(COUNT_SCRIPT, 1, revsKey(d), now(), countPrefix(d))) as (string | number)[];
      const counts = new Map<string, number>();
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const n = Number(flat[i + 1]);
        if (n > 0) counts.set(String(flat[i]), n);
      }
      return counts;
    },
    async clear() {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
        cursor = next;
        if (keys.length > 0) await redis.del(...keys);
      } while (cursor !== '0');
    },
    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
