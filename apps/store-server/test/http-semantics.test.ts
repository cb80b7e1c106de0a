import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HTTP_ROUTES } from '@greentic/store-contract';
import { sqlTamper } from '@greentic/store-sql';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fixedTokenDirectory, hashToken, mintToken, staticTokenProvider } from '../src/identity/static-tokens';
import { env, type ServerFixture, startFixture } from './server-fixture';

// Captured before any server starts: the server must never swap them (other code shares this process).
const NativeResponse = globalThis.Response;
const NativeRequest = globalThis.Request;

let f: ServerFixture;
beforeEach(async () => {
  f = await startFixture();
  await f.server.integrityChecked;
});
afterEach(async () => {
  await f.close();
});

const problemOf = async (res: Response) => {
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  return (await res.json()) as Record<string, unknown>;
};

describe('first start', () => {
  it('stores only the hash of the admin token, and the token works', async () => {
    const tokens = await f.sql.listTokens();
    expect(tokens).toHaveLength(1);
    expect(tokens[0]?.value).toMatchObject({ actor: 'admin', roles: ['admin'] });
    expect(JSON.stringify(tokens)).not.toContain(f.adminToken);
    await f.sql.close().catch(() => undefined);
    const bytes = readFileSync(join(f.dir, 'store.db'));
    expect(bytes.includes(Buffer.from(f.adminToken))).toBe(false);
  });
});

describe('optimistic locking over HTTP', () => {
  it('sends a strong ETag, needs If-Match on update (428), refuses a stale tag (412) with the current tag', async () => {
    const created = await f.call('/v1/environments/zain-prod', { method: 'PUT', body: env('zain-prod', { a: 1 }) });
    expect(created.status).toBe(201);
    const etag = created.headers.get('etag');
    expect(etag).toMatch(/^"[^"]+"$/);
    const read = await f.call('/v1/environments/zain-prod');
    expect(read.headers.get('etag')).toBe(etag);
    expect(await read.json()).toEqual({ name: 'zain-prod', slots: {}, config: { a: 1 } });
    expect((await f.call('/v1/environments/zain-prod', { headers: { 'if-none-match': etag ?? '' } })).status).toBe(304);

    const missing = await f.call('/v1/environments/zain-prod', { method: 'PUT', body: env('zain-prod', { a: 2 }) });
    expect(missing.status).toBe(428);
    expect((await problemOf(missing)).code).toBe('precondition-required');

    const updated = await f.call('/v1/environments/zain-prod', {
      method: 'PUT',
      body: env('zain-prod', { a: 2 }),
      headers: { 'if-match': etag ?? '' },
    });
    expect(updated.status).toBe(200);
    const stale = await f.call('/v1/environments/zain-prod', {
      method: 'PUT',
      body: env('zain-prod', { a: 3 }),
      headers: { 'if-match': etag ?? '' },
    });
    expect(stale.status).toBe(412);
    const body = await problemOf(stale);
    expect(body.code).toBe('version-conflict');
    expect(`"${body.currentVersion}"`).toBe(updated.headers.get('etag'));

    const createOnly = await f.call('/v1/environments/zain-prod', {
      method: 'PUT',
      body: env('zain-prod'),
      headers: { 'if-none-match': '*' },
    });
    expect(createOnly.status).toBe(412);
    expect(((await (await f.call('/v1/environments/zain-prod')).json()) as { config: unknown }).config).toEqual({
      a: 2,
    });
  });
});

describe('idempotency over HTTP', () => {
  it('replays status, headers and body byte for byte with Idempotent-Replayed: true', async () => {
    const init = { method: 'PUT', body: env('local'), headers: { 'idempotency-key': 'k-1', 'x-request-id': 'first' } };
    const first = await f.call('/v1/environments/local', init);
    const again = await f.call('/v1/environments/local', {
      ...init,
      headers: { ...init.headers, 'x-request-id': 'retry' },
    });
    expect(again.status).toBe(first.status);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    for (const h of ['etag', 'content-type', 'x-request-id']) expect(again.headers.get(h)).toBe(first.headers.get(h));
    expect(again.headers.get('x-request-id')).toBe('first');
    expect(await again.text()).toBe(await first.text());
    const audit = await f.sql.queryAudit({ action: 'environment.put' });
    expect(audit).toHaveLength(1);
  });

  it('refuses the same key with a different request (422) and changes nothing', async () => {
    await f.call('/v1/environments/local', {
      method: 'PUT',
      body: env('local'),
      headers: { 'idempotency-key': 'k-2' },
    });
    const reused = await f.call('/v1/environments/other', {
      method: 'PUT',
      body: env('other'),
      headers: { 'idempotency-key': 'k-2' },
    });
    expect(reused.status).toBe(422);
    expect((await problemOf(reused)).code).toBe('idempotency-key-reused');
    expect((await f.call('/v1/environments/other')).status).toBe(404);
  });

  it('does not store requests refused before execution (400, 401, 403, 428)', async () => {
    const k = { 'idempotency-key': 'k-3' };
    expect((await f.call('/v1/environments/local', { method: 'PUT', body: '{bad', headers: k })).status).toBe(400);
    expect(
      (await f.call('/v1/environments/local', { method: 'PUT', body: env('local'), headers: k, token: null })).status,
    ).toBe(401);
    const reader = await f.token('reader', ['read-only']);
    expect(
      (await f.call('/v1/environments/local', { method: 'PUT', body: env('local'), headers: k, token: reader })).status,
    ).toBe(403);
    const ok = await f.call('/v1/environments/local', { method: 'PUT', body: env('local'), headers: k });
    expect(ok.status).toBe(201);
    expect(ok.headers.get('idempotent-replayed')).toBeNull();
    // 428: an update without If-Match; the same key then carries the corrected request
    const k4 = { 'idempotency-key': 'k-4' };
    const missing = await f.call('/v1/environments/local', {
      method: 'PUT',
      body: env('local', { a: 1 }),
      headers: k4,
    });
    expect(missing.status).toBe(428);
    const fixed = await f.call('/v1/environments/local', {
      method: 'PUT',
      body: env('local', { a: 1 }),
      headers: { ...k4, 'if-match': ok.headers.get('etag') ?? '' },
    });
    expect(fixed.status).toBe(200);
    expect(fixed.headers.get('idempotent-replayed')).toBeNull();
  });
});

describe('access control', () => {
  it('refuses a missing or unknown token with 401 and audits it', async () => {
    const none = await f.call('/v1/environments', { token: null });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toContain('Bearer');
    expect((await problemOf(none)).code).toBe('unauthorized');
    const bogus = await f.call('/v1/environments/prod', { token: 'gtc_not-a-real-token' });
    expect(bogus.status).toBe(401);
    const refused = await f.sql.queryAudit({ outcome: 'refused' });
    expect(refused.map((e) => [e.actor, e.status, e.code, e.environment])).toEqual([
      ['anonymous', 401, 'unauthorized', null],
      ['anonymous', 401, 'unauthorized', 'prod'],
    ]);
    expect(JSON.stringify(refused)).not.toContain('gtc_not-a-real-token');
  });

  it('opens config.set on zain-* to a read-only token by a rule; every 403 is audited', async () => {
    for (const name of ['zain-dev', 'staging'])
      await f.call(`/v1/environments/${name}`, { method: 'PUT', body: env(name) });
    const ops = await f.call('/v1/admin/tokens', {
      method: 'POST',
      body: JSON.stringify({
        actor: 'zain-ops',
        roles: ['read-only'],
        rules: [{ environments: 'zain-*', actions: ['config.set'] }],
      }),
    });
    expect(ops.status).toBe(201);
    const minted = (await ops.json()) as { token: string };
    expect(minted.token).toMatch(/^gtc_/);
    const zain = await f.call('/v1/environments/zain-dev/config', { token: minted.token });
    const etag = zain.headers.get('etag') ?? '';
    const allowed = await f.call('/v1/environments/zain-dev/config', {
      method: 'PUT',
      body: JSON.stringify({ tier: 1 }),
      headers: { 'if-match': etag },
      token: minted.token,
    });
    expect(allowed.status).toBe(200);
    const denied = await f.call('/v1/environments/staging/config', {
      method: 'PUT',
      body: JSON.stringify({ tier: 1 }),
      headers: { 'if-match': etag },
      token: minted.token,
    });
    expect(denied.status).toBe(403);
    expect((await problemOf(denied)).code).toBe('forbidden');
    const admin = await f.call('/v1/admin/tokens', { token: minted.token });
    expect(admin.status).toBe(403);
    const delegated = await f.call('/v1/environments/zain-dev/config', {
      token: minted.token,
      headers: { 'x-greentic-on-behalf-of': 'someone-else' },
    });
    expect(delegated.status).toBe(403);
    const refused = await f.sql.queryAudit({ outcome: 'refused', actor: 'zain-ops' });
    expect(refused.map((e) => [e.action, e.environment, e.status])).toEqual([
      ['config.set', 'staging', 403],
      ['token.read', null, 403],
      ['config.read', 'zain-dev', 403],
    ]);
    expect((await f.call('/v1/environments/staging/config', { token: minted.token })).status).toBe(200);
  });

  it('refuses a revoked token at once', async () => {
    const reader = await f.token('reader', ['read-only']);
    expect((await f.call('/v1/environments', { token: reader })).status).toBe(200);
    const listed = (await (await f.call('/v1/admin/tokens')).json()) as {
      items: { value: { id: string; actor: string }; version: string }[];
    };
    const item = listed.items.find((i) => i.value.actor === 'reader');
    const revoked = await f.call(`/v1/admin/tokens/${item?.value.id}`, {
      method: 'DELETE',
      headers: { 'if-match': `"${item?.version}"` },
    });
    expect(revoked.status).toBe(200);
    expect((await f.call('/v1/environments', { token: reader })).status).toBe(401);
  });

  it('lets read-only read but not write, and lists only the environments a scoped grant covers', async () => {
    for (const name of ['zain-a', 'other'])
      await f.call(`/v1/environments/${name}`, { method: 'PUT', body: env(name) });
    const viewer = mintToken();
    const scoped = await startFixture({
      store: f.sql,
      identity: staticTokenProvider(
        fixedTokenDirectory([
          { actor: 'viewer', tokenHash: hashToken(viewer), grants: [{ role: 'read-only', environments: 'zain-*' }] },
        ]),
      ),
    });
    const list = (await (await scoped.call('/v1/environments', { token: viewer })).json()) as {
      items: { value: { name: string } }[];
    };
    expect(list.items.map((i) => i.value.name)).toEqual(['zain-a']);
    expect((await scoped.call('/v1/environments/other', { token: viewer })).status).toBe(403);
    await scoped.close();
    const reader = await f.token('reader', ['read-only']);
    expect((await f.call('/v1/environments/other', { token: reader })).status).toBe(200);
    expect((await f.call('/v1/environments/other', { method: 'DELETE', token: reader })).status).toBe(403);
  });
});

describe('problem+json for every refusal', () => {
  it('answers malformed JSON 400, oversize 413, unknown route 404 and wrong method 405, each with a request id', async () => {
    const cases: [Response, number, string][] = [
      [await f.call('/v1/environments/x', { method: 'PUT', body: '{"name":' }), 400, 'malformed-json'],
      [await f.call('/v1/environments/x', { method: 'PUT', body: '[1,2]' }), 400, 'malformed-json'],
      [await f.call('/v1/environments/x', { method: 'PUT', body: `"${'a'.repeat(1_100_000)}"` }), 413, 'too-large'],
      [
        await f.call('/v1/environments/x', {
          method: 'PUT',
          body: env('x'),
          headers: { 'content-type': 'text/plain' },
        }),
        415,
        'unsupported-media-type',
      ],
      [await f.call('/v1/nothing-here'), 404, 'route-not-found'],
      [await f.call('/v1/environments', { method: 'DELETE' }), 405, 'method-not-allowed'],
      [
        await f.call('/v1/environments/x', { method: 'PUT', body: env('x'), headers: { 'if-match': 'W/"weak"' } }),
        400,
        'invalid',
      ],
    ];
    for (const [res, status, code] of cases) {
      expect(res.status).toBe(status);
      expect(res.headers.get('x-request-id')).toMatch(/.+/);
      const body = await problemOf(res);
      expect(body).toMatchObject({ status, code, type: `https://greentic.ai/problems/${code}` });
      expect(body.requestId).toBe(res.headers.get('x-request-id'));
    }
    expect(cases[5]?.[0].headers.get('allow')).toBe('GET, HEAD');
    expect(await f.sql.listEnvironments()).toEqual([]);
  });

  it('keeps a caller-supplied request id', async () => {
    const res = await f.call('/v1/environments', { headers: { 'x-request-id': 'trace-42' } });
    expect(res.headers.get('x-request-id')).toBe('trace-42');
  });
});

describe('lists', () => {
  it('paginate with an opaque cursor in the store order', async () => {
    for (let i = 0; i < 7; i++) await f.call(`/v1/environments/e${i}`, { method: 'PUT', body: env(`e${i}`) });
    const names: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
      const page = (await (await f.call(`/v1/environments?limit=3${q}`)).json()) as {
        items: { value: { name: string }; version: string }[];
        nextCursor: string | null;
      };
      names.push(...page.items.map((i) => i.value.name));
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== null);
    expect(pages).toBe(3);
    expect(names).toEqual(['e0', 'e1', 'e2', 'e3', 'e4', 'e5', 'e6']);
    expect((await f.call('/v1/environments?cursor=garbage')).status).toBe(400);
    expect((await f.call('/v1/environments?limit=0')).status).toBe(400);
  });
});

describe('operations', () => {
  it('reports health, readiness by integrity, and Prometheus metrics', async () => {
    expect(await (await f.call('/healthz', { token: null })).json()).toEqual({ status: 'ok' });
    const ready = await f.call('/readyz', { token: null });
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, integrity: 'ok' });

    const created = await f.call('/v1/environments/local', {
      method: 'PUT',
      body: env('local'),
      headers: { 'idempotency-key': 'm-1' },
    });
    await f.call('/v1/environments/local', {
      method: 'PUT',
      body: env('local'),
      headers: { 'idempotency-key': 'm-1' },
    });
    await f.call('/v1/environments/local', {
      method: 'PUT',
      body: env('local'),
      headers: { 'if-match': '"v0-stale"' },
    });
    expect(created.status).toBe(201);
    const metrics = await (await f.call('/metrics', { token: null })).text();
    expect(metrics).toContain(
      'greentic_store_http_requests_total{method="PUT",route="/v1/environments/:environment",status="201"} 2',
    );
    expect(metrics).toContain('greentic_store_http_request_duration_seconds_bucket');
    expect(metrics).toContain('greentic_store_cas_conflicts_total 1');
    expect(metrics).toContain('greentic_store_idempotent_replays_total 1');
    expect(metrics).toMatch(/greentic_store_audit_length [1-9]/);

    await sqlTamper(f.sql).flipObjectByte({ kind: 'environment', key: 'local' });
    const check = await f.call('/v1/admin/integrity-checks', { method: 'POST' });
    expect(check.status).toBe(200);
    expect(await check.json()).toMatchObject({ ok: false, corrupt: [{ kind: 'environment', key: 'local' }] });
    const notReady = await f.call('/readyz', { token: null });
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toMatchObject({ ready: false, integrity: 'failed' });
    const rotten = await f.call('/v1/environments/local');
    expect(rotten.status).toBe(503);
    expect((await problemOf(rotten)).code).toBe('corrupt');
  });

  it('serves OpenAPI 3.1 with every route and the deploy-spec schemas', async () => {
    const doc = (await (await f.call('/openapi.json', { token: null })).json()) as {
      openapi: string;
      paths: Record<string, Record<string, { operationId: string }>>;
      components: { schemas: Record<string, { $id?: string }> };
    };
    expect(doc.openapi).toBe('3.1.0');
    for (const [name, route] of Object.entries(HTTP_ROUTES)) {
      expect(doc.paths[route.path]?.[route.method.toLowerCase()]?.operationId).toBe(name);
    }
    expect(doc.components.schemas.environment?.$id).toBe('https://schemas.greentic.ai/deploy-spec/v1/environment.json');
  });

  it('writes JSON log lines with request id and actor, never the token', async () => {
    await f.call('/v1/environments', { headers: { 'x-request-id': 'log-me' } });
    await f.call('/v1/environments', { token: 'gtc_leaked-secret-value' });
    const lines = f.logger.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toContainEqual(
      expect.objectContaining({ requestId: 'log-me', status: 200, actor: 'admin', route: '/v1/environments' }),
    );
    const all = f.logger.lines.join('\n');
    expect(all).not.toContain(f.adminToken);
    expect(all).not.toContain('leaked-secret-value');
  });

  it('counts a streamed (chunked) body as it arrives: within the limit it is read, past it 413', async () => {
    const streamed = (text: string) =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          const bytes = new TextEncoder().encode(text);
          for (let i = 0; i < bytes.length; i += 64 * 1024) controller.enqueue(bytes.subarray(i, i + 64 * 1024));
          controller.close();
        },
      });
    const small = await f.call('/v1/environments/chunked', {
      method: 'PUT',
      body: streamed(env('chunked')),
      duplex: 'half',
    } as RequestInit);
    expect(small.status).toBe(201);
    const big = await f.call('/v1/environments/chunked-big', {
      method: 'PUT',
      body: streamed(`"${'a'.repeat(1_100_000)}"`),
      duplex: 'half',
    } as RequestInit);
    expect(big.status).toBe(413);
    expect((await problemOf(big)).code).toBe('too-large');
  });
});

describe('the process around the server', () => {
  it('leaves the global Request and Response as it found them, and still answers through the fast path', async () => {
    const { lightweightResponseClass } = await import('../src/reply');
    expect(globalThis.Response).toBe(NativeResponse);
    expect(globalThis.Request).toBe(NativeRequest);
    // Code in the same process may call the native classes' methods on responses it builds.
    expect(await NativeResponse.prototype.text.call(new Response('still native'))).toBe('still native');
    // node-server's lightweight class is in use for the server's own answers (a regression costs ~1.5x per read).
    expect(lightweightResponseClass()).not.toBe(NativeResponse);
    const res = await f.call('/v1/environments/none');
    expect(res.status).toBe(404);
    expect(res.headers.get('x-request-id')).toMatch(/.+/);
    expect(globalThis.Response).toBe(NativeResponse);
  });
});
