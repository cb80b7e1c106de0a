import { createHttpStore, type GreenticStore, isStoreError, StoreError } from '@greentic/store-contract';
import type { SqlStore } from '@greentic/store-sql';
import { afterEach, describe, expect, it } from 'vitest';
import { createStoreApp } from '../src/app';
import { silentLogger } from '../src/logger';
import { env, type ServerFixture, startFixture } from './server-fixture';

const fixtures: ServerFixture[] = [];
afterEach(async () => {
  for (const f of fixtures.splice(0)) await f.close();
});
async function fixture(wrap?: (store: SqlStore) => GreenticStore) {
  const f = await startFixture(wrap === undefined ? {} : { wrap });
  fixtures.push(f);
  return f;
}

/** The real store, with one verb held for `ms` before it runs (to keep a request in flight). */
function slow(verb: 'putEnvironment' | 'setConfig', ms: number) {
  return (store: SqlStore): GreenticStore =>
    new Proxy(store, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function') return value;
        if (prop === verb) {
          return async (...args: unknown[]) => {
            await new Promise((resolve) => setTimeout(resolve, ms));
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        return value.bind(target);
      },
    }) as GreenticStore;
}

describe('a key still running', () => {
  it('gets 409 with Retry-After, then the replay once the first finished', async () => {
    const f = await fixture(slow('putEnvironment', 300));
    const init = { method: 'PUT', body: env('local'), headers: { 'idempotency-key': 'same' } };
    const first = f.call('/v1/environments/local', init);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const second = await f.call('/v1/environments/local', init);
    expect(second.status).toBe(409);
    expect(second.headers.get('retry-after')).toBe('1');
    expect(((await second.json()) as { code: string }).code).toBe('idempotency-in-flight');
    expect((await first).status).toBe(201);
    const third = await f.call('/v1/environments/local', init);
    expect(third.status).toBe(201);
    expect(third.headers.get('idempotent-replayed')).toBe('true');
  });
});

describe('readiness', () => {
  it('is false while integrity is unverified, true after a passing check', async () => {
    const f = await fixture();
    const app = createStoreApp({ store: f.sql, logger: silentLogger });
    const before = await app.request('/readyz');
    expect(before.status).toBe(503);
    expect(await before.json()).toMatchObject({ ready: false, integrity: 'unverified' });
    const check = await app.request('/v1/admin/integrity-checks', {
      method: 'POST',
      headers: { authorization: `Bearer ${f.adminToken}` },
    });
    expect(check.status).toBe(200);
    expect((await app.request('/readyz')).status).toBe(200);
  });
});

describe('graceful shutdown', () => {
  it('finishes the request in flight, refuses new connections, and reports not ready meanwhile', async () => {
    const f = await fixture(slow('setConfig', 400));
    const created = await f.call('/v1/environments/local', { method: 'PUT', body: env('local') });
    const pending = f.call('/v1/environments/local/config', {
      method: 'PUT',
      body: JSON.stringify({ a: 1 }),
      headers: { 'if-match': created.headers.get('etag') ?? '' },
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const closing = f.server.close();
    expect(f.server.health.draining).toBe(true);
    expect((await pending).status).toBe(200);
    await closing;
    await expect(fetch(`${f.server.url}/healthz`)).rejects.toThrow();
    expect((await f.sql.getConfig('local')).value).toEqual({ a: 1 });
  });
});

describe('HTTP client', () => {
  it('retries a lost answer with the same idempotency key: applied once, replayed to the caller', async () => {
    const f = await fixture();
    let lost = 0;
    const keys: string[] = [];
    const flaky: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      const key = new Headers(init?.headers).get('idempotency-key');
      if (key !== null) keys.push(key);
      if (init?.method === 'PUT' && lost === 0) {
        lost++;
        throw new TypeError('fetch failed', {
          cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
        });
      }
      return res;
    };
    const store = createHttpStore({
      baseUrls: f.server.url,
      token: f.adminToken,
      fetch: flaky,
      retry: { baseDelayMs: 1 },
    });
    const result = await store.putEnvironment(
      { name: 'local', slots: {}, config: {} },
      { actor: 'x', idempotencyKey: 'logical-1' },
    );
    expect(result.replayed).toBe(true);
    expect(keys).toEqual(['logical-1', 'logical-1']);
    expect(await f.sql.queryAudit({ action: 'environment.put' })).toHaveLength(1);
  });

  it('fails over from a dead base URL, retries a 503, and keeps one generated key per logical call', async () => {
    const f = await fixture();
    const dead = 'http://127.0.0.1:9';
    let served503 = false;
    const keys: string[] = [];
    const sometimes503: typeof fetch = async (input, init) => {
      const key = new Headers(init?.headers).get('idempotency-key');
      if (key !== null) keys.push(key);
      if (!served503 && String(input) === `${f.server.url}/v1/admin/tokens`) {
        served503 = true;
        return new Response(JSON.stringify({ code: 'unavailable', status: 503, detail: 'busy' }), {
          status: 503,
          headers: { 'content-type': 'application/problem+json' },
        });
      }
      return fetch(input, init);
    };
    const store = createHttpStore({
      baseUrls: [dead, f.server.url],
      token: f.adminToken,
      fetch: sometimes503,
      retry: { baseDelayMs: 1 },
    });
    expect(await store.listEnvironments()).toEqual([]);
    const v = await store.putEnvironment({ name: 'local', slots: {}, config: {} }, { actor: 'x', idempotencyKey: '' });
    const t = await store
      .transitionRevision('local', 'nope', 'r1', 'warm', { actor: 'x', idempotencyKey: 'k', expectedVersion: 'v1' })
      .catch((e: unknown) => e);
    expect(isStoreError(t, 'not-found')).toBe(true);
    expect(v.version).toEqual(expect.any(String));
    const created = await store.createToken(
      { hash: 'sha256:abc', actor: 'ci', roles: ['operator'] },
      { actor: 'x', idempotencyKey: '' },
    );
    expect(created.value.actor).toBe('ci');
    expect(served503).toBe(true);
    const generated = keys.filter((k) => k.startsWith('client-'));
    expect(new Set(generated).size).toBe(2);
    expect(generated.length).toBeGreaterThan(2);
  });

  it('returns a version conflict as the typed StoreError with the current tag', async () => {
    const f = await fixture();
    const store = createHttpStore({ baseUrls: f.server.url, token: f.adminToken });
    const created = await store.putEnvironment(
      { name: 'local', slots: {}, config: {} },
      { actor: 'x', idempotencyKey: 'a' },
    );
    const error = await store
      .setConfig('local', { a: 1 }, { actor: 'x', idempotencyKey: 'b', expectedVersion: 'v0-stale' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect(error).toMatchObject({ code: 'version-conflict', details: { currentVersion: created.version } });
    const denied = await createHttpStore({ baseUrls: f.server.url, token: 'gtc_wrong' })
      .listEnvironments()
      .catch((e: unknown) => e);
    expect(isStoreError(denied, 'forbidden')).toBe(true);
  });
});
