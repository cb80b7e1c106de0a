import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RuntimeConfig } from '@greentic/deploy-spec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStoreConfigSource, startDispatcher } from '../src/index';
import { get, oneDeployment, startWorker, type Worker } from './helpers';

/** A stand-in for the store's runtime-config endpoint: ETag + If-None-Match, and a switch to fail. */
async function startFakeStore() {
  const state = {
    config: undefined as RuntimeConfig | undefined,
    failing: false,
    requests: 0,
    notModified: 0,
    auth: [] as string[],
  };
  const server: Server = createServer((req, res) => {
    state.requests++;
    state.auth.push(req.headers.authorization ?? '');
    if (state.failing || state.config === undefined) {
      res.writeHead(503).end();
      return;
    }
    const tag = `"g${state.config.generation}"`;
    if (req.headers['if-none-match'] === tag) {
      state.notModified++;
      res.writeHead(304, { etag: tag }).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', etag: tag }).end(JSON.stringify(state.config));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    state,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/environments/local/runtime-config`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('createStoreConfigSource', () => {
  let blue: Worker;
  let green: Worker;
  beforeAll(async () => {
    [blue, green] = await Promise.all([startWorker('blue'), startWorker('green')]);
  });
  afterAll(async () => {
    await Promise.all([blue?.close(), green?.close()]);
  });

  it('follows the store with conditional GETs and switches on a new generation', async () => {
    const store = await startFakeStore();
    store.state.config = oneDeployment(1, [{ id: 'blue', weight: 10_000, endpoint: blue.url }]);
    const source = createStoreConfigSource({
      url: store.url,
      intervalMs: 30,
      headers: { authorization: 'Bearer store-token-xyz' },
    });
    const lines: string[] = [];
    const d = await startDispatcher({ configSource: source, listen: '127.0.0.1:0', log: (l) => lines.push(l) });
    try {
      await d.waitForGeneration(1);
      expect((await get(d.url, '/')).worker).toBe('blue');
      await expect.poll(() => store.state.notModified).toBeGreaterThan(3);
      store.state.config = oneDeployment(2, [{ id: 'green', weight: 10_000, endpoint: green.url }]);
      await d.waitForGeneration(2);
      expect((await get(d.url, '/')).worker).toBe('green');
      expect(store.state.auth.every((a) => a === 'Bearer store-token-xyz')).toBe(true);
      expect(lines.join('\n')).not.toContain('store-token-xyz');
    } finally {
      await d.close();
      await store.close();
    }
  });

  it('backs off while the store fails, keeps the config in force, and recovers', async () => {
    const store = await startFakeStore();
    store.state.config = oneDeployment(1, [{ id: 'blue', weight: 10_000, endpoint: blue.url }]);
    const errors: string[] = [];
    const docs: unknown[] = [];
    const source = createStoreConfigSource({ url: store.url, intervalMs: 20, maxBackoffMs: 400 });
    await source.start({ onConfig: (doc) => docs.push(doc), onError: (e) => errors.push(e.message) });
    try {
      expect(docs).toHaveLength(1);
      store.state.failing = true;
      const before = store.state.requests;
      await new Promise((r) => setTimeout(r, 1000));
      const duringOutage = store.state.requests - before;
      // At a steady 20 ms that would be ~50 requests; doubling up to 400 ms gives far fewer.
      expect(duringOutage).toBeLessThan(15);
      expect(errors).toEqual([
        expect.stringMatching(/answered 503; keeping the config in force and retrying with backoff/),
      ]);
      store.state.failing = false;
      store.state.config = oneDeployment(2, [{ id: 'green', weight: 10_000, endpoint: green.url }]);
      await expect.poll(() => docs.length, { timeout: 3000 }).toBe(2);
    } finally {
      await source.close();
      await store.close();
    }
  });
});
