import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisPinStore, type Dispatcher, type RedisPinStore, startDispatcher } from '../src/index';
import {
  type ConfigFolder,
  createConfigFolder,
  get,
  oneDeployment,
  pool,
  quiet,
  startWorker,
  type Worker,
} from './helpers';

const REDIS_URL = 'redis://127.0.0.1:6379';

describe('Redis pin store (real Redis at 127.0.0.1:6379)', () => {
  const prefix = `greentic:test:${randomUUID()}:`;
  let store: RedisPinStore;

  beforeAll(() => {
    store = createRedisPinStore({ url: REDIS_URL, keyPrefix: prefix, ttlMs: 60_000 });
  });
  afterAll(async () => {
    await store?.clear();
    await store?.close();
  });

  it('pins, re-pins and counts live pins per revision', async () => {
    await store.set('acme/support', 'a', 'r1');
    await store.set('acme/support', 'b', 'r1');
    await store.set('acme/support', 'c', 'r2');
    await store.set('acme/support', 'c', 'r1'); // moved: counted once, on r1
    await store.set('globex/support', 'a', 'r2');
    expect(await store.get('acme/support', 'c')).toBe('r1');
    expect(await store.get('acme/support', 'nobody')).toBeUndefined();
    expect(Object.fromEntries(await store.countByRevision('acme/support'))).toEqual({ r1: 3 });
  });

  it('expires pins after the TTL unless they are used (sliding)', async () => {
    // Generous margins: this machine is shared, and a use must land within the TTL of the previous one.
    const short = createRedisPinStore({ url: REDIS_URL, keyPrefix: prefix, ttlMs: 2000 });
    try {
      await short.set('acme/ttl', 'kept', 'r1');
      await short.set('acme/ttl', 'idle', 'r1');
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setTimeout(r, 750));
        expect(await short.get('acme/ttl', 'kept')).toBe('r1');
      }
      expect(await short.get('acme/ttl', 'idle')).toBeUndefined();
      expect(Object.fromEntries(await short.countByRevision('acme/ttl'))).toEqual({ r1: 1 });
    } finally {
      await short.close();
    }
  });
});

describe('two dispatchers sharing pins through Redis', () => {
  const prefix = `greentic:test:${randomUUID()}:`;
  let blue: Worker;
  let green: Worker;
  let folder: ConfigFolder;
  let a: Dispatcher;
  let b: Dispatcher;

  beforeAll(async () => {
    [blue, green, folder] = await Promise.all([startWorker('blue'), startWorker('green'), createConfigFolder()]);
    await folder.write(
      oneDeployment(1, [
        { id: 'blue', weight: 5000, endpoint: blue.url },
        { id: 'green', weight: 5000, endpoint: green.url },
      ]),
    );
    const options = {
      configDir: folder.dir,
      listen: '127.0.0.1:0',
      redisUrl: REDIS_URL,
      redisKeyPrefix: prefix,
      log: quiet,
    };
    [a, b] = await Promise.all([startDispatcher(options), startDispatcher(options)]);
    await Promise.all([a.waitForGeneration(1), b.waitForGeneration(1)]);
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    const cleaner = createRedisPinStore({ url: REDIS_URL, keyPrefix: prefix });
    await cleaner.clear();
    await cleaner.close();
    await Promise.all([blue?.close(), green?.close(), folder?.remove()]);
  });

  it('a session pinned through one dispatcher lands on the same revision through the other, across a weight change', async () => {
    const first = await pool(
      40,
      8,
      async (i) => (await get(a.url, '/', { 'x-greentic-session': `shared-${i}` })).worker,
    );
    expect(new Set(first)).toEqual(new Set(['blue', 'green']));
    const viaB = await pool(
      40,
      8,
      async (i) => (await get(b.url, '/', { 'x-greentic-session': `shared-${i}` })).worker,
    );
    expect(viaB).toEqual(first);
    await folder.write(
      oneDeployment(2, [
        { id: 'blue', weight: 10_000, endpoint: blue.url },
        { id: 'green', weight: 0, endpoint: green.url },
      ]),
    );
    await Promise.all([a.waitForGeneration(2), b.waitForGeneration(2)]);
    const after = await pool(
      40,
      8,
      async (i) => (await get(i % 2 === 0 ? a.url : b.url, '/', { 'x-greentic-session': `shared-${i}` })).worker,
    );
    expect(after).toEqual(first);
    // Both admin endpoints see the same shared pin counts.
    const count = (s: Awaited<ReturnType<Dispatcher['snapshot']>>, id: string) =>
      s.deployments[0]?.revisions.find((r) => r.id === id)?.pinnedSessions;
    const [sa, sb] = await Promise.all([a.snapshot(), b.snapshot()]);
    expect(count(sa, 'green')).toBe(first.filter((w) => w === 'green').length);
    expect(count(sb, 'green')).toBe(count(sa, 'green'));
  });
});
