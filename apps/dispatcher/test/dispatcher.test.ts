import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Dispatcher, startDispatcher } from '../src/index';
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

const COOKIE_KEY = 'test-cookie-key-0123456789';

describe('startDispatcher (real HTTP, two real workers)', () => {
  let blue: Worker;
  let green: Worker;
  let folder: ConfigFolder;
  let dispatcher: Dispatcher;
  let generation = 1;

  const split = async (blueWeight: number, greenWeight: number, greenState: 'ready' | 'draining' = 'ready') => {
    generation++;
    await folder.write(
      oneDeployment(generation, [
        { id: 'blue', weight: blueWeight, endpoint: blue.url },
        { id: 'green', weight: greenWeight, endpoint: green.url, state: greenState },
      ]),
    );
    await dispatcher.waitForGeneration(generation);
  };

  beforeAll(async () => {
    [blue, green, folder] = await Promise.all([startWorker('blue'), startWorker('green'), createConfigFolder()]);
    await folder.write(oneDeployment(1, [{ id: 'blue', weight: 10_000, endpoint: blue.url }]));
    dispatcher = await startDispatcher({
      configDir: folder.dir,
      listen: '127.0.0.1:0',
      cookieKeys: [COOKIE_KEY],
      log: quiet,
    });
    await dispatcher.waitForGeneration(1);
  });
  afterAll(async () => {
    await dispatcher?.close();
    await Promise.all([blue?.close(), green?.close(), folder?.remove()]);
  });

  it('splits 20,000 requests 90/10 within ±1.5 points', async () => {
    await split(9000, 1000);
    const workers = await pool(20_000, 32, async () => (await get(dispatcher.url, '/')).worker);
    const blueShare = workers.filter((w) => w === 'blue').length / workers.length;
    const greenShare = workers.filter((w) => w === 'green').length / workers.length;
    expect(blueShare + greenShare).toBe(1);
    expect(Math.abs(blueShare - 0.9)).toBeLessThanOrEqual(0.015);
    expect(Math.abs(greenShare - 0.1)).toBeLessThanOrEqual(0.015);
  }, 120_000); // 20,000 real HTTP round trips: ~13 s alone, several times that on a loaded 2-core machine

  it('keeps a sticky session (session header or signed cookie) on its revision across a weight change', async () => {
    await split(5000, 5000);
    const sessions = await pool(40, 8, async (i) => {
      const r = await get(dispatcher.url, '/', { 'x-greentic-session': `s-${i}` });
      const cookie = String(r.headers['set-cookie']).split(';')[0]!;
      return { id: `s-${i}`, worker: r.worker, cookie };
    });
    expect(new Set(sessions.map((s) => s.worker))).toEqual(new Set(['blue', 'green']));
    await split(0, 10_000);
    for (const s of sessions) {
      expect((await get(dispatcher.url, '/', { 'x-greentic-session': s.id })).worker).toBe(s.worker);
      expect((await get(dispatcher.url, '/', { cookie: s.cookie })).worker).toBe(s.worker);
    }
    // New sessions follow the new weights.
    const fresh = await pool(
      50,
      8,
      async (i) => (await get(dispatcher.url, '/', { 'x-greentic-session': `n-${i}` })).worker,
    );
    expect(new Set(fresh)).toEqual(new Set(['green']));
  });

  it('after drain starts, no new session lands on the draining revision; its in-flight and pinned requests complete', async () => {
    await split(5000, 5000);
    // Pin a few sessions to green.
    const pinned: string[] = [];
    for (let i = 0; pinned.length < 3 && i < 200; i++) {
      if ((await get(dispatcher.url, '/', { 'x-greentic-session': `d-${i}` })).worker === 'green')
        pinned.push(`d-${i}`);
    }
    expect(pinned).toHaveLength(3);
    // A long request in flight on green (its session is pinned there).
    const slow = get(dispatcher.url, '/slow?ms=700', { 'x-greentic-session': pinned[0]! });
    await expect
      .poll(async () => (await dispatcher.snapshot()).deployments[0]?.revisions.find((r) => r.id === 'green')?.inFlight)
      .toBe(1);
    const greenOf = async () => (await dispatcher.snapshot()).deployments[0]?.revisions.find((r) => r.id === 'green');
    const pinsBefore = (await greenOf())?.pinnedSessions ?? 0;
    expect(pinsBefore).toBeGreaterThanOrEqual(3);
    await split(10_000, 0, 'draining');
    const fresh = await pool(
      300,
      16,
      async (i) => (await get(dispatcher.url, '/', { 'x-greentic-session': `new-${i}` })).worker,
    );
    expect(fresh.filter((w) => w !== 'blue')).toEqual([]);
    for (const s of pinned) expect((await get(dispatcher.url, '/', { 'x-greentic-session': s })).worker).toBe('green');
    const done = await slow;
    expect(done.status).toBe(200);
    expect(done.worker).toBe('green');
    // Drain can see it: nothing in flight, and no pin was added after the drain started.
    await expect.poll(greenOf).toMatchObject({ state: 'draining', inFlight: 0, pinnedSessions: pinsBefore });
  });

  it('a revision removed from the config while a request is in flight shows as gone until that request ends', async () => {
    await split(0, 10_000);
    const slow = get(dispatcher.url, '/slow?ms=1500', { 'x-greentic-session': 'gone-1' });
    await expect
      .poll(async () => (await dispatcher.snapshot()).deployments[0]?.revisions.find((r) => r.id === 'green')?.inFlight)
      .toBe(1);
    generation++;
    await folder.write(oneDeployment(generation, [{ id: 'blue', weight: 10_000, endpoint: blue.url }]));
    await dispatcher.waitForGeneration(generation);
    const during = (await dispatcher.snapshot()).deployments[0]?.revisions.find((r) => r.id === 'green');
    expect(during).toMatchObject({ state: 'gone', inFlight: 1 });
    expect((await slow).worker).toBe('green');
    await expect
      .poll(async () => (await dispatcher.snapshot()).deployments[0]?.revisions.map((r) => r.id))
      .toEqual(['blue']);
    // Its metric series end with it (label cardinality does not grow with every deploy).
    expect((await get(dispatcher.adminUrl, '/metrics')).text).not.toContain('revision="green"');
    // Its session re-pins to a revision that exists.
    expect((await get(dispatcher.url, '/', { 'x-greentic-session': 'gone-1' })).worker).toBe('blue');
  });
});
