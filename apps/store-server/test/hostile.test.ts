import { connect } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { env, type ServerFixture, startFixture } from './server-fixture';

// 1,000 malformed or hostile requests: only 4xx problem+json answers, never a 5xx, and no object changes.
// Refusals of bad credentials are audited (that is the point of the audit), so the audit may only grow by
// `refused` entries.

let f: ServerFixture;
const LIMIT = 16 * 1024;
beforeAll(async () => {
  f = await startFixture({ bodyLimitBytes: LIMIT });
  await f.call('/v1/environments/zain-prod', { method: 'PUT', body: env('zain-prod', { a: 1 }) });
  await f.call('/v1/environments/zain-prod/deployments/support', {
    method: 'PUT',
    body: JSON.stringify({ tenant: 'zain', billingCustomer: 'c1', bundleId: 'support-bot' }),
  });
});
afterAll(async () => {
  await f.close();
});

/** A raw HTTP/1.1 exchange, for what fetch refuses to send (header injection, bad framing). */
function raw(port: number, request: string): Promise<{ status: number; contentType: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.setTimeout(5000, () => socket.destroy(new Error('raw request timed out')));
    socket.on('data', (d) => {
      data += d.toString('latin1');
    });
    socket.on('error', reject);
    socket.on('close', () => {
      const [head = '', body = ''] = data.split('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      const contentType = /\r\ncontent-type: *([^\r]+)/i.exec(head)?.[1] ?? '';
      resolve({ status, contentType, body });
    });
    socket.end(request, 'latin1');
  });
}

async function snapshot() {
  const s = f.sql;
  return JSON.stringify({
    envs: await s.listEnvironments(),
    deps: await s.listDeployments(),
    bundles: await s.listBundles(),
    tokens: await s.listTokens(),
    refs: await s.listSecretRefs('zain-prod'),
    config: await s.getConfig('zain-prod'),
  });
}

const envName = fc.oneof(
  fc.constantFrom('zain-prod', 'x', '..', '%2e%2e', '%2F', 'a%00b', 'ZAIN', '-', 'a'.repeat(80), '%252e', '*'),
  fc.stringMatching(/^[a-zA-Z0-9%._~-]{1,20}$/),
);
const badValue = fc.oneof(
  fc.integer(),
  fc.string({ maxLength: 20 }),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.boolean(),
);
const token = fc.oneof(
  fc.constant<string | null>(null),
  fc.string({ maxLength: 40 }).map((s) => `gtc_${s.replace(/[^A-Za-z0-9_-]/g, '')}`),
  fc.constantFrom('a.b.c', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', 'Basic YWRtaW46YWRtaW4=', ''),
);

type Hostile =
  | {
      kind: 'fetch';
      method: string;
      path: string;
      body?: string;
      headers: Record<string, string>;
      token: string | null;
    }
  | { kind: 'raw'; request: string };

const hostile: fc.Arbitrary<Hostile> = fc.oneof(
  // bad JSON and wrong types, with a valid admin token: the store must refuse them
  fc.record({
    kind: fc.constant('fetch' as const),
    method: fc.constant('PUT'),
    path: envName.map((e) => `/v1/environments/${e}`),
    body: fc.oneof(
      fc.string({ maxLength: 60 }),
      badValue.map((v) => JSON.stringify({ name: 'zain-prod', slots: v, config: {} })),
      badValue.map((v) => JSON.stringify({ name: v, slots: {}, config: [] })),
      fc.constantFrom('{', '{"name":"zain-prod"', 'null', '[]', '"str"', '{"__proto__":{"admin":true}}', '\u0000'),
    ),
    headers: fc.constant({ 'content-type': 'application/json', 'if-match': '"v1-stale"' }),
    token: fc.constant('ADMIN'),
  }),
  fc.record({
    kind: fc.constant('fetch' as const),
    method: fc.constantFrom('PUT', 'POST'),
    path: fc.constantFrom(
      '/v1/environments/zain-prod/config',
      '/v1/environments/zain-prod/deployments/support/traffic',
      '/v1/environments/zain-prod/deployments/support/revisions/r1/transitions',
      '/v1/environments/zain-prod/slots/deployer',
      '/v1/admin/tokens',
      '/v1/audit/refusals',
    ),
    body: badValue.map((v) => JSON.stringify({ entries: v, action: v, id: v, actor: v, roles: v, a: { deep: v } })),
    headers: fc.constant({
      'content-type': 'application/json',
      'if-match': '"v1-stale"',
      'idempotency-key': 'hostile',
    }),
    token: fc.constant('ADMIN'),
  }),
  // huge bodies
  fc.integer({ min: LIMIT + 1, max: LIMIT * 3 }).map((n) => ({
    kind: 'fetch' as const,
    method: 'PUT',
    path: '/v1/environments/zain-prod',
    body: `{"name":"${'a'.repeat(n)}"}`,
    headers: { 'content-type': 'application/json' },
    token: 'ADMIN',
  })),
  // bad tokens on every kind of route
  fc.record({
    kind: fc.constant('fetch' as const),
    method: fc.constantFrom('GET', 'PUT', 'DELETE', 'POST'),
    path: fc.constantFrom('/v1/environments', '/v1/environments/zain-prod', '/v1/admin/tokens', '/v1/audit'),
    body: fc.constant(env('zain-prod', { pwned: true })),
    headers: fc.constant({ 'content-type': 'application/json' }),
    token,
  }),
  // path tricks
  fc
    .record({
      kind: fc.constant('fetch' as const),
      method: fc.constantFrom('GET', 'DELETE', 'PATCH', 'OPTIONS'),
      path: fc.oneof(
        envName.map((e) => `/v1/environments/${e}/deployments/${e}`),
        fc.constantFrom(
          '/v1/../v1/admin/tokens',
          '/v1/environments/zain-prod/..',
          '/v1//environments',
          '/v2/environments',
          '/v1/environments/zain-prod%2Fdeployments',
          '/v1/admin',
          '/V1/ENVIRONMENTS',
          '/v1/environments?limit=-1',
          '/v1/environments?limit=99999',
          '/v1/audit?afterSeq=abc',
          '/v1/audit?limit=1e9',
          '/v1/environments?cursor=%00',
        ),
      ),
      headers: fc.constant({}),
      token: fc.constantFrom<string | null>('ADMIN', null),
    })
    .filter(
      // With the admin token only methods that cannot succeed here (DELETE without If-Match, PATCH, OPTIONS).
      (h) => h.token === null || h.method !== 'GET',
    ),
  // header injection and bad framing, over a raw socket
  fc
    .constantFrom(
      'GET /v1/environments HTTP/1.1\r\nHost: x\r\nX-Request-Id: a\r\nInjected: yes\r\n\r\n',
      'GET /v1/environments HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\nb\r\n\r\n',
      'PUT /v1/environments/x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n{}',
      'PUT /v1/environments/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n',
      'GET /v1/environments HTTP/1.1\r\nHo st: x\r\n\r\n',
      `GET /v1/environments HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      'GET /v1/envi\u0000ronments HTTP/1.1\r\nHost: x\r\n\r\n',
      'BREW /v1/environments HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /v1/environments HTTP/9.9\r\nHost: x\r\n\r\n',
      'PUT /v1/environments/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n',
    )
    .map((request) => ({ kind: 'raw' as const, request })),
);

describe('1,000 hostile requests', () => {
  it('get only 4xx problem+json, never a 5xx, and change no object', async () => {
    const before = await snapshot();
    const auditBefore = (await f.sql.verifyAudit()).head?.seq ?? 0;
    const port = f.server.port;
    const samples = fc.sample(hostile, { numRuns: 1000, seed: 20261123 });
    const statuses = new Map<number, number>();
    for (const h of samples) {
      let status: number;
      let contentType: string;
      let body: string;
      if (h.kind === 'raw') {
        ({ status, contentType, body } = await raw(port, h.request));
      } else {
        const headers = new Headers(h.headers);
        const t = h.token === 'ADMIN' ? f.adminToken : h.token;
        if (t !== null) {
          try {
            headers.set('authorization', t.startsWith('Basic') ? t : `Bearer ${t}`);
          } catch {
            // a value fetch itself refuses to send: send none
          }
        }
        const res = await fetch(`${f.server.url}${h.path}`, {
          method: h.method,
          headers,
          ...(h.body === undefined || h.method === 'GET' ? {} : { body: h.body }),
        });
        status = res.status;
        contentType = res.headers.get('content-type') ?? '';
        body = await res.text();
        if (status >= 400) expect(res.headers.get('x-request-id')).toMatch(/.+/);
      }
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      expect(status, `${JSON.stringify(h).slice(0, 300)} → ${status} ${body.slice(0, 200)}`).toBeGreaterThanOrEqual(
        400,
      );
      expect(status, `${JSON.stringify(h).slice(0, 300)} → ${body.slice(0, 200)}`).toBeLessThan(500);
      expect(contentType).toBe('application/problem+json');
      expect((JSON.parse(body) as { status: number }).status).toBe(status);
    }
    expect(await snapshot()).toBe(before);
    const added = await f.sql.queryAudit({ afterSeq: auditBefore, limit: 10_000 });
    expect(added.every((e) => e.outcome === 'refused')).toBe(true);
    expect((await f.sql.verifyAudit()).ok).toBe(true);
    expect([...statuses.keys()].every((s) => s >= 400 && s < 500)).toBe(true);
  }, 60_000);
});
