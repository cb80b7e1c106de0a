import { createServer } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ResolvedDeps } from '../src/app';
import { RouteTable, tableListener } from '../src/fast-path';
import { reply } from '../src/reply';
import { env, type ServerFixture, startFixture } from './server-fixture';

// The node listener answers plain requests for known routes from its route table, everything else through
// node-server and Hono. Both must answer alike, on the wire: same status line, same headers in the same order
// (the request id and date aside), same body.

let f: ServerFixture;
beforeEach(async () => {
  f = await startFixture();
  await f.server.integrityChecked;
});
afterEach(async () => {
  await f.close();
});

/** One raw HTTP/1.1 exchange on a fresh connection: the answer's bytes as text. */
function exchange(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => {
      text += chunk;
    });
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
    socket.write(request);
  });
}

interface Wire {
  readonly statusLine: string;
  readonly headers: readonly string[];
  readonly body: string;
}

/** Splits an answer; request ids, the date and the environment's name are blanked (they differ per request). */
function wire(text: string, blankEtag = false): Wire {
  const end = text.indexOf('\r\n\r\n');
  const [statusLine = '', ...headers] = text.slice(0, end).split('\r\n');
  const id = headers
    .find((h) => h.toLowerCase().startsWith('x-request-id:'))
    ?.slice('x-request-id:'.length)
    .trim();
  return {
    statusLine,
    headers: headers.map((h) =>
      /^(x-request-id|date):/i.test(h) || (blankEtag && /^etag:/i.test(h))
        ? h.replace(/:.*/, ': *')
        : h.replace(/^keep-alive:.*/i, 'Keep-Alive: *'),
    ),
    body: (id === undefined
      ? text.slice(end + 4)
      : text
          .slice(end + 4)
          .split(id)
          .join('*')
    )
      .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uuid>')
      .replace(/table-[ab]/g, 'table-*'),
  };
}

const port = () => f.server.port;

/** The same request twice: once as the route table takes it, once with an empty query (so Hono answers it). */
async function bothWays(method: string, path: string, headers: Record<string, string>, body = ''): Promise<Wire[]> {
  const out: Wire[] = [];
  for (const target of [path, `${path}?`]) {
    const lines = [`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
    for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
    if (body.length > 0 || method === 'PUT') lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
    out.push(wire(await exchange(port(), `${lines.join('\r\n')}\r\n\r\n${body}`)));
  }
  return out;
}

describe('route table', () => {
  it('answers reads, writes and refusals on the wire exactly as Hono does', async () => {
    const auth = { Authorization: `Bearer ${f.adminToken}` };
    const created = await f.call('/v1/environments/zain-prod', { method: 'PUT', body: env('zain-prod', { a: 1 }) });
    const etag = created.headers.get('etag') ?? '';

    const cases: [string, string, Record<string, string>, string?][] = [
      ['GET', '/v1/environments/zain-prod', auth],
      ['GET', '/v1/environments/zain-prod', { ...auth, 'If-None-Match': etag }],
      ['GET', '/v1/environments/nope', auth],
      ['GET', '/v1/environments/zain-prod', {}],
      ['GET', '/v1/environments/zain-prod', { Authorization: 'Bearer gtc_unknown' }],
      ['GET', '/v1/environments/zain-prod', { ...auth, 'X-Request-Id': 'caller-chosen-1' }],
      ['GET', '/healthz', {}],
      ['PUT', '/v1/environments/zain-prod/config', { ...auth, 'Content-Type': 'application/json' }, '{"a":2}'],
      ['PUT', '/v1/environments/zain-prod/config', { ...auth, 'If-Match': '"v0-000000000000"' }, '{"a":2}'],
      ['PUT', '/v1/environments/zain-prod/config', { ...auth, 'If-Match': 'garbage' }, '{"a":2}'],
      ['PUT', '/v1/environments/zain-prod/config', { ...auth, 'Idempotency-Key': 'has space' }, '{"a":2}'],
      ['PUT', '/v1/environments/zain-prod/config', { ...auth, 'Content-Type': 'text/plain' }, '{"a":2}'],
      ['PUT', '/v1/environments/zain-prod/config', { ...auth, 'Content-Type': 'application/json' }, '{"a":'],
    ];
    for (const [method, path, headers, body] of cases) {
      const [table, hono] = await bothWays(method, path, headers, body);
      expect(table, `${method} ${path} ${JSON.stringify(headers)}`).toEqual(hono);
    }
  });

  it('writes with If-Match and an Idempotency-Key, and replays, as Hono does', async () => {
    const auth = `Bearer ${f.adminToken}`;
    const results: Wire[] = [];
    for (const name of ['table-a', 'table-b']) {
      const created = await f.call(`/v1/environments/${name}`, { method: 'PUT', body: env(name, { n: 0 }) });
      const etag = created.headers.get('etag') ?? '';
      const query = name === 'table-a' ? '' : '?';
      const body = '{"n":1}';
      const request = [
        `PUT /v1/environments/${name}/config${query} HTTP/1.1`,
        'Host: 127.0.0.1',
        'Connection: close',
        `Authorization: ${auth}`,
        'Content-Type: application/json',
        `If-Match: ${etag}`,
        `Idempotency-Key: key-${name}`,
        `Content-Length: ${body.length}`,
      ].join('\r\n');
      const first = wire(await exchange(port(), `${request}\r\n\r\n${body}`), true);
      const replay = wire(await exchange(port(), `${request}\r\n\r\n${body}`), true);
      const changed = wire(await exchange(port(), `${request}\r\n\r\n{"n":2}`), true);
      results.push(first, replay, changed);
    }
    expect(results[0]?.statusLine).toBe('HTTP/1.1 200 OK');
    expect(results[1]?.headers).toContain('Idempotent-Replayed: true');
    expect(results[2]?.statusLine).toBe('HTTP/1.1 422 Unprocessable Entity');
    expect(results.slice(0, 3)).toEqual(results.slice(3));
  });

  it('joins repeated header fields as the Fetch API does, so a doubled Authorization is refused both ways', async () => {
    const auth = { Authorization: `Bearer ${f.adminToken}` };
    const lines = (target: string) =>
      [
        `GET ${target} HTTP/1.1`,
        'Host: 127.0.0.1',
        'Connection: close',
        `Authorization: ${auth.Authorization}`,
        `Authorization: ${auth.Authorization}`,
      ].join('\r\n');
    const table = wire(await exchange(port(), `${lines('/v1/environments/zain-prod')}\r\n\r\n`));
    const hono = wire(await exchange(port(), `${lines('/v1/environments/zain-prod?')}\r\n\r\n`));
    expect(table.statusLine).toBe('HTTP/1.1 401 Unauthorized');
    expect(table).toEqual(hono);
  });

  it('leaves encoded paths, dot segments, HEAD, odd hosts and chunked bodies to Hono, with the same answers', async () => {
    await f.call('/v1/environments/zain-prod', { method: 'PUT', body: env('zain-prod', { a: 1 }) });
    const encoded = await f.call('/v1/environments/zain%2Dprod');
    expect(encoded.status).toBe(200);
    const dotted = await exchange(
      port(),
      `GET /v1/environments/x/../zain-prod HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: Bearer ${f.adminToken}\r\n\r\n`,
    );
    expect(dotted.startsWith('HTTP/1.1 200 OK')).toBe(true);
    const head = await f.call('/v1/environments/zain-prod', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('etag')).toMatch(/^"/);
    const oddHost = await exchange(port(), `GET /healthz HTTP/1.1\r\nHost: Bad_Host:1\r\nConnection: close\r\n\r\n`);
    expect(oddHost.startsWith('HTTP/1.1 ')).toBe(true);
    const chunked = await exchange(
      port(),
      `PUT /v1/environments/zain-prod/config HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: Bearer ${f.adminToken}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n7\r\n{"a":3}\r\n0\r\n\r\n`,
    );
    expect(chunked.startsWith('HTTP/1.1 428 ')).toBe(true);
    const wrongMethod = await f.call('/v1/environments/zain-prod/config', { method: 'POST', body: '{}' });
    expect(wrongMethod.status).toBe(405);
  });

  it("answers what escapes a handler with the app's error handler, and writes any Response", async () => {
    const table = new RouteTable();
    table.add('GET', '/boom/:id', async (c) => {
      throw new Error(`boom ${c.req.param().id}`);
    });
    table.add('GET', '/native', async () => new Response('plain', { status: 202, headers: { 'x-a': '1' } }));
    table.add('GET', '/built', async (c) =>
      reply(200, `{"id":"${c.req.header('X-Request-Id')}"}`, {
        'content-type': 'application/json',
        'X-Request-Id': 'r',
      }),
    );
    const listener = tableListener(
      {
        table,
        deps: {} as ResolvedDeps,
        onError: (_c, error) => reply(500, String(error), { 'content-type': 'text/plain', 'X-Request-Id': 'e' }),
      },
      (_req, res) => res.writeHead(404).end(),
    );
    const server = createServer(listener);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const boom = await fetch(`${base}/boom/7`);
      expect([boom.status, await boom.text(), boom.headers.get('x-request-id')]).toEqual([500, 'Error: boom 7', 'e']);
      const native = await fetch(`${base}/native`);
      expect([native.status, await native.text(), native.headers.get('x-a')]).toEqual([202, 'plain', '1']);
      expect(native.headers.get('content-type')).toBe('text/plain;charset=UTF-8');
      const built = await fetch(`${base}/built`, { headers: { 'X-Request-Id': '  spaced  ' } });
      expect(await built.json()).toEqual({ id: 'spaced' });
      expect((await fetch(`${base}/boom/7?q`)).status).toBe(404);
      expect((await fetch(`${base}/elsewhere`)).status).toBe(404);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
