import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, createServer, request as httpRequest, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { get, client as testHttpClient } from './helpers';
import {
  call,
  dispatcherFor,
  fetchRaw,
  type RawUpstream,
  sized,
  sleep,
  startRawUpstream,
  testClient,
} from './raw-upstream';

/** Everything a test starts, stopped after it whatever happens. */
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function raw(answer: Parameters<typeof startRawUpstream>[0]): Promise<RawUpstream> {
  const upstream = await startRawUpstream(answer);
  cleanups.push(() => upstream.close());
  return upstream;
}

function client(options: Parameters<typeof testClient>[0] = {}) {
  const c = testClient(options);
  cleanups.push(() => c.close());
  return c;
}

async function dispatcher(endpoint: string, options: Parameters<typeof dispatcherFor>[1] = {}) {
  const d = await dispatcherFor(endpoint, options);
  cleanups.push(() => d.close());
  return d.dispatcher;
}

async function nodeUpstream(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, server };
}

describe('UpstreamClient against real upstreams on 127.0.0.1', () => {
  it('reads sized bodies and sends many sequential requests over one kept-alive connection', async () => {
    let connections = 0;
    const up = await nodeUpstream((req, res) => {
      res.setHeader('content-type', 'text/plain');
      res.end(`you asked for ${req.url}`);
    });
    up.server.on('connection', () => connections++);
    const c = client();
    for (let i = 0; i < 25; i++) {
      const r = await call(c, up.url, `/item/${i}`);
      expect(r.status).toBe(200);
      expect(r.body.toString()).toBe(`you asked for /item/${i}`);
      expect(r.headers['content-type']).toBe('text/plain');
    }
    expect(connections).toBe(1);
  });

  it('decodes a chunked body with chunk extensions and trailers, then reuses the connection', async () => {
    const up = await raw((_req, socket) => {
      socket.write(
        'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: x-checksum\r\n\r\n' +
          '5;name=value\r\nhello\r\n6 ; quoted="a;b"\r\n world\r\n0\r\nX-Checksum: abc\r\nX-Other:  two words \r\n\r\n',
      );
    });
    const c = client();
    const first = await call(c, up.url, '/a');
    expect(first.body.toString()).toBe('hello world');
    expect(first.headers['transfer-encoding']).toBe('chunked');
    expect(first.trailers).toEqual({ 'x-checksum': 'abc', 'x-other': 'two words' });
    const second = await call(c, up.url, '/b');
    expect(second.body.toString()).toBe('hello world');
    expect(up.requests.map((r) => r.connection)).toEqual([1, 1]);
  });

  it('reads a body with no length until the upstream closes, and does not reuse that connection', async () => {
    const up = await raw((_req, socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\npart one, ');
      setTimeout(() => socket.end('part two'), 20);
    });
    const c = client();
    expect((await call(c, up.url, '/1')).body.toString()).toBe('part one, part two');
    expect((await call(c, up.url, '/2')).body.toString()).toBe('part one, part two');
    expect(up.requests.map((r) => r.connection)).toEqual([1, 2]);
  });

  it('expects no body after HEAD, 204 and 304 whatever their framing fields say, and keeps the connection', async () => {
    const up = await raw((req, socket) => {
      if (req.method === 'HEAD') socket.write('HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n');
      else if (req.path === '/204') socket.write('HTTP/1.1 204 No Content\r\ntransfer-encoding: chunked\r\n\r\n');
      else if (req.path === '/304')
        socket.write('HTTP/1.1 304 Not Modified\r\ncontent-length: 50\r\netag: "x"\r\n\r\n');
      else socket.write(sized('after'));
    });
    const c = client();
    const head = await call(c, up.url, '/', { method: 'HEAD' });
    expect([head.status, head.headers['content-length'], head.body.length]).toEqual([200, '1000', 0]);
    const noContent = await call(c, up.url, '/204');
    expect([noContent.status, noContent.body.length]).toEqual([204, 0]);
    const notModified = await call(c, up.url, '/304');
    expect([notModified.status, notModified.headers.etag, notModified.body.length]).toEqual([304, '"x"', 0]);
    expect((await call(c, up.url, '/after')).body.toString()).toBe('after');
    expect(up.accepted()).toBe(1);
  });

  it('reads fields named like object properties (constructor, toString) as plain fields', async () => {
    const up = await raw((_req, socket) =>
      socket.write(sized('ok', '200 OK', 'Constructor: yes\r\ntoString: also\r\nhasOwnProperty: too\r\n')),
    );
    const r = await call(client(), up.url);
    expect(r.status).toBe(200);
    expect({ ...r.headers }).toMatchObject({ constructor: 'yes', tostring: 'also', hasownproperty: 'too' });
  });

  it('skips 100 Continue and 103 Early Hints and answers with the final response', async () => {
    const up = await raw((_req, socket) => {
      socket.write('HTTP/1.1 100 Continue\r\n\r\n');
      setTimeout(() => {
        socket.write('HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\n');
        setTimeout(() => socket.write(sized('final', '201 Created')), 10);
      }, 10);
    });
    const r = await call(client(), up.url);
    expect([r.status, r.body.toString(), r.headers.link]).toEqual([201, 'final', undefined]);
  });

  it('closes the connection after an answer with Connection: close and opens a new one', async () => {
    // The upstream keeps the socket open: only the client's reading of the header closes it.
    const up = await raw((_req, socket) => socket.write(sized('bye', '200 OK', 'Connection: close\r\n')));
    const c = client();
    expect((await call(c, up.url, '/1')).body.toString()).toBe('bye');
    await up.closedConnection(1);
    expect((await call(c, up.url, '/2')).body.toString()).toBe('bye');
    expect(up.requests.map((r) => r.connection)).toEqual([1, 2]);
  });

  it('closes an idle connection after its keep-alive timeout, sooner when the upstream asks with Keep-Alive', async () => {
    const up = await raw((req, socket) =>
      socket.write(sized('ok', '200 OK', req.path === '/hint' ? 'Keep-Alive: timeout=2\r\n' : '')),
    );
    const short = client({ keepAliveTimeout: 400 });
    let t = Date.now();
    await call(short, up.url, '/');
    await up.closedConnection(1);
    expect(Date.now() - t).toBeGreaterThanOrEqual(250);
    expect(Date.now() - t).toBeLessThan(1500);
    // 30 s by default, but the upstream said 2 s: closed before that.
    const hinted = client({ keepAliveTimeout: 30_000 });
    t = Date.now();
    await call(hinted, up.url, '/hint');
    await up.closedConnection(2);
    expect(Date.now() - t).toBeLessThan(2000);
    expect(hinted.stats(up.url).connections).toBe(0);
  });

  it('retries once on a fresh connection when a kept-alive connection is closed as the request goes out', async () => {
    // The second request on each connection finds it closed: once with a reset, once with a plain FIN.
    const up = await raw((req, socket) => {
      if (req.index === 2) {
        if (req.connection === 1) socket.resetAndDestroy();
        else socket.end();
        return;
      }
      socket.write(sized(`answer to ${req.path}`));
    });
    const c = client();
    expect((await call(c, up.url, '/a')).body.toString()).toBe('answer to /a');
    expect((await call(c, up.url, '/b')).body.toString()).toBe('answer to /b'); // reset on 1, retried on 2
    expect((await call(c, up.url, '/c')).body.toString()).toBe('answer to /c'); // FIN on 2, retried on 3
    expect(up.requests.map((r) => `${r.path}@${r.connection}`)).toEqual(['/a@1', '/b@1', '/b@2', '/c@2', '/c@3']);
  });

  it('never retries a POST: the upstream may have applied it before the connection broke', async () => {
    const up = await raw((req, socket) => {
      if (req.index === 2) socket.end();
      else socket.write(sized(`answer to ${req.path}`));
    });
    const c = client();
    await call(c, up.url, '/first');
    await expect(call(c, up.url, '/post', { method: 'POST' })).rejects.toMatchObject({ code: 'UPSTREAM_CLOSED' });
    expect(up.requests.map((r) => `${r.method} ${r.path}@${r.connection}`)).toEqual(['GET /first@1', 'POST /post@1']);
  });

  it('never sends a request body twice: a body already sent on a connection that then closes is an error', async () => {
    const up = await raw((req, socket) => {
      if (req.index === 2) socket.resetAndDestroy();
      else socket.write(sized('ok'));
    });
    const c = client();
    await call(c, up.url, '/first');
    const posted = call(c, up.url, '/post', {
      method: 'POST',
      headers: ['content-length', '5'],
      body: Readable.from([Buffer.from('hello')]),
    });
    await expect(posted).rejects.toMatchObject({ code: expect.stringMatching(/UPSTREAM_(SOCKET|CLOSED)/) });
    expect(up.requests.filter((r) => r.path === '/post')).toHaveLength(1);
  });

  it('refuses to write a request whose fields hold CR, LF or NUL, so a request can never be split', async () => {
    const up = await raw((_req, socket) => socket.write(sized('ok')));
    const c = client();
    const bad = [
      { headers: ['x-a', 'fine\r\nx-injected: 1'] },
      { headers: ['x-a', 'nul\0here'] },
      { headers: ['x-a', 'lf\nonly'] },
      { headers: ['x a', 'space in the name'] },
      { headers: ['x-b\r\nx-c', 'split in the name'] },
    ];
    for (const b of bad) {
      await expect(call(c, up.url, '/', b)).rejects.toMatchObject({ code: 'UPSTREAM_REQUEST_INVALID' });
    }
    await expect(call(c, up.url, '/a b')).rejects.toMatchObject({ code: 'UPSTREAM_REQUEST_INVALID' });
    await expect(call(c, up.url, '/', { method: 'GET /x HTTP/1.1\r\n' })).rejects.toMatchObject({
      code: 'UPSTREAM_REQUEST_INVALID',
    });
    expect(up.accepted()).toBe(0);
    expect((await call(c, up.url, '/', { headers: ['x-a', 'tab\tand obs-text \xe9'] })).status).toBe(200);
    expect(up.requests[0]!.headers['x-a']).toBe('tab\tand obs-text \xe9');
  });

  it('holds requests beyond the connection limit in a queue and serves them all', async () => {
    let busy = 0;
    let most = 0;
    const up = await raw((req, socket) => {
      most = Math.max(most, ++busy);
      setTimeout(() => {
        busy--;
        socket.write(sized(req.path));
      }, 20);
    });
    const c = client({ connections: 2 });
    const bodies = await Promise.all(Array.from({ length: 12 }, (_, i) => call(c, up.url, `/${i}`)));
    expect(bodies.map((b) => b.body.toString())).toEqual(Array.from({ length: 12 }, (_, i) => `/${i}`));
    expect(up.accepted()).toBe(2);
    expect(most).toBe(2);
  });

  it('fails a request that waits longer than queueTimeout for a busy connection, without sending it', async () => {
    const up = await raw((req, socket) => {
      if (req.path !== '/hold') socket.write(sized(req.path));
      // /hold: no answer; its connection stays busy.
    });
    const c = client({ connections: 1, headersTimeout: 1500, queueTimeout: 300 });
    const held = call(c, up.url, '/hold').catch((e: unknown) => e);
    const t = Date.now();
    await expect(call(c, up.url, '/queued')).rejects.toMatchObject({ code: 'UPSTREAM_QUEUE_TIMEOUT', isTimeout: true });
    expect(Date.now() - t).toBeGreaterThanOrEqual(300);
    expect(Date.now() - t).toBeLessThan(1400); // before the held request's own headers timeout
    expect(c.stats(up.url)).toMatchObject({ connections: 1, queued: 0 });
    expect(await held).toMatchObject({ code: 'UPSTREAM_HEADERS_TIMEOUT' });
    expect(up.requests.map((r) => r.path)).toEqual(['/hold']);
  });

  it('speaks HTTPS to an https: origin, verifying its certificate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'greentic-upstream-tls-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    execFileSync('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ]);
    const cert = readFileSync(join(dir, 'cert.pem'));
    const server = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert }, (req, res) =>
      res.end(`secure ${req.url}`),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    cleanups.push(() => server.closeAllConnections());
    const origin = `https://localhost:${(server.address() as net.AddressInfo).port}`;
    const trusting = client({ tls: { ca: cert } });
    expect((await call(trusting, origin, '/a')).body.toString()).toBe('secure /a');
    expect((await call(trusting, origin, '/b')).body.toString()).toBe('secure /b');
    // Without the CA, the certificate is refused: no request goes out.
    await expect(call(client(), origin, '/c')).rejects.toMatchObject({ code: 'UPSTREAM_CONNECT_FAILED' });
  });

  it('close() lets the request in progress finish, fails the ones waiting and closes the connections', async () => {
    const up = await raw((req, socket) => setTimeout(() => socket.write(sized(req.path)), 100));
    const c = testClient({ connections: 1 });
    const running = call(c, up.url, '/running');
    const waiting = call(c, up.url, '/waiting');
    await sleep(30);
    const closed = c.close();
    await expect(waiting).rejects.toMatchObject({ code: 'UPSTREAM_CLIENT_CLOSED' });
    expect((await running).body.toString()).toBe('/running');
    await closed;
    await up.closedConnection(1);
    await expect(call(c, up.url, '/after')).rejects.toMatchObject({ code: 'UPSTREAM_CLIENT_CLOSED' });
  });
});

describe('the dispatcher on its upstream client', () => {
  it('answers 502, and drops the connection, for every kind of malformed response', async () => {
    const bad: Record<string, string> = {
      'obs-fold': 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-a: b\r\n\tfolded\r\n\r\nok',
      'space before colon': 'HTTP/1.1 200 OK\r\ncontent-length : 2\r\n\r\nok',
      'bare LF line ends': 'HTTP/1.1 200 OK\ncontent-length: 2\n\nok',
      'bare LF after CRLF': 'HTTP/1.1 200 OK\r\n\ncontent-length: 2\r\n\r\nok',
      'bare CR in a value': 'HTTP/1.1 200 OK\r\nx-a: b\rc\r\ncontent-length: 2\r\n\r\nok',
      'NUL in a value': 'HTTP/1.1 200 OK\r\nx-a: b\0c\r\ncontent-length: 2\r\n\r\nok',
      'no colon': 'HTTP/1.1 200 OK\r\nno colon here\r\ncontent-length: 2\r\n\r\nok',
      'empty name': 'HTTP/1.1 200 OK\r\n: nameless\r\ncontent-length: 2\r\n\r\nok',
      'duplicate Content-Length': 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 2\r\n\r\nok',
      'conflicting Content-Length': 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nok!',
      'Content-Length list': 'HTTP/1.1 200 OK\r\ncontent-length: 2, 2\r\n\r\nok',
      'negative Content-Length': 'HTTP/1.1 200 OK\r\ncontent-length: -2\r\n\r\nok',
      'Content-Length and chunked':
        'HTTP/1.1 200 OK\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n',
      'chunked twice': 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n',
      'chunked not last': 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked, gzip\r\n\r\n2\r\nok\r\n0\r\n\r\n',
      'HTTP/2.0 status line': 'HTTP/2.0 200 OK\r\ncontent-length: 2\r\n\r\nok',
      'two-digit status': 'HTTP/1.1 20 OK\r\ncontent-length: 2\r\n\r\nok',
      'four-digit status': 'HTTP/1.1 2000 OK\r\ncontent-length: 2\r\n\r\nok',
      'no SP after status': 'HTTP/1.1 200OK\r\ncontent-length: 2\r\n\r\nok',
      'status below 100': 'HTTP/1.1 099 Low\r\ncontent-length: 2\r\n\r\nok',
      'not HTTP at all': 'hello, world\r\n\r\n',
      'unasked 101': 'HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n',
    };
    // Malformed after the head went out (the client has a 200 already): the response is cut off instead.
    const badBody: Record<string, string> = {
      'bad chunk size': 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n',
      'chunk without CRLF': 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nokXX0\r\n\r\n',
      'bare LF after chunk size': 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\nok\r\n0\r\n\r\n',
      'control in chunk extension': 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2;a=\x01\r\nok\r\n0\r\n\r\n',
      'bad trailer': 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nno colon\r\n\r\n',
    };
    const up = await raw((req, socket) => {
      const name = decodeURIComponent(req.path.slice(1));
      socket.write(bad[name] ?? badBody[name] ?? sized('good'), 'latin1');
    });
    const d = await dispatcher(up.url);
    for (const name of Object.keys(bad)) {
      const r = await get(d.url, `/${encodeURIComponent(name)}`);
      expect({ name, status: r.status }).toEqual({ name, status: 502 });
      expect(JSON.parse(r.text)).toMatchObject({ code: 'upstream-unavailable' });
      await up.closedConnection(up.requests.at(-1)!.connection);
    }
    for (const name of Object.keys(badBody)) {
      await expect(fetchRaw(`${d.url}/${encodeURIComponent(name)}`), name).rejects.toThrow();
      await up.closedConnection(up.requests.at(-1)!.connection);
    }
    // Every bad answer cost its connection; a good request afterwards is fine.
    expect((await get(d.url, '/good')).text).toBe('good');
    const count = Object.keys(bad).length + Object.keys(badBody).length;
    expect(new Set(up.requests.map((r) => r.connection)).size).toBe(count + 1);
  });

  it("passes a chunked answer's trailer fields on to the client, without hop-by-hop or framing ones", async () => {
    const up = await raw((_req, socket) =>
      socket.write(
        'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntrailer: x-checksum\r\n\r\n' +
          '5\r\nhello\r\n0\r\nx-checksum: sha256:abc\r\ncontent-length: 99\r\nconnection: close\r\n\r\n',
      ),
    );
    const d = await dispatcher(up.url);
    const r = await fetchRaw(`${d.url}/t`);
    expect(r.body.toString()).toBe('hello');
    expect(r.headers.trailer).toBe('x-checksum');
    expect(r.trailers).toEqual({ 'x-checksum': 'sha256:abc' });
  });

  it('passes a response whose body is followed by stray bytes, then drops that connection', async () => {
    const up = await raw((req, socket) => socket.write(req.path === '/stray' ? `${sized('ok')}EXTRA` : sized('next')));
    const d = await dispatcher(up.url);
    const r = await get(d.url, '/stray');
    expect([r.status, r.text]).toEqual([200, 'ok']);
    await up.closedConnection(1);
    expect((await get(d.url, '/after')).text).toBe('next');
  });

  it('answers 502 for a response head over 64 KiB, whole or in pieces, and passes one just under', async () => {
    const head = (size: number) => `HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(size)}\r\ncontent-length: 2\r\n\r\nok`;
    const up = await raw((req, socket) => {
      const bytes = Buffer.from(head(req.path === '/under' ? 60 * 1024 : 70 * 1024), 'latin1');
      if (req.path !== '/pieces') {
        socket.write(bytes);
        return;
      }
      let at = 0;
      const next = () => {
        if (at >= bytes.length || socket.destroyed) return;
        socket.write(bytes.subarray(at, at + 4096));
        at += 4096;
        setTimeout(next, 1);
      };
      next();
    });
    const d = await dispatcher(up.url);
    expect((await get(d.url, '/whole')).status).toBe(502);
    expect((await get(d.url, '/pieces')).status).toBe(502);
    const under = await call(client(), up.url, '/under');
    expect([under.status, (under.headers['x-big'] as string).length]).toEqual([200, 60 * 1024]);
  });

  it('answers 504 when the upstream sends no head in time, and cuts the response when the body stalls', async () => {
    const up = await raw((req, socket) => {
      if (req.path === '/stall-body') socket.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc');
      // /stall-head: never a byte.
    });
    const d = await dispatcher(up.url, { upstreamTimeoutMs: 400 });
    const t = Date.now();
    const r = await get(d.url, '/stall-head');
    expect(r.status).toBe(504);
    expect(JSON.parse(r.text)).toMatchObject({ code: 'upstream-timeout' });
    expect(Date.now() - t).toBeGreaterThanOrEqual(400);
    await up.closedConnection(1);
    // The head went out already: the client sees the response cut short, not a 504.
    await expect(fetchRaw(`${d.url}/stall-body`)).rejects.toThrow();
    await up.closedConnection(2);
    const metrics = (await get(d.adminUrl, '/metrics')).text;
    expect(metrics).toMatch(/greentic_dispatcher_errors_total\{[^}]*code="upstream-timeout"\} 2/);
  });

  it('answers 504, naming the busy connections, when a request waits too long for one (and never sends it)', async () => {
    // /busy streams its body slowly (a byte every 100 ms: never a body timeout), so its one connection stays busy.
    const up = await raw((req, socket) => {
      if (req.path !== '/busy') {
        socket.write(sized('quick'));
        return;
      }
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 30\r\n\r\n');
      const timer = setInterval(() => (socket.destroyed ? clearInterval(timer) : socket.write('x')), 100);
      socket.once('close', () => clearInterval(timer));
    });
    const d = await dispatcher(up.url, { upstreamTimeoutMs: 500, connectionsPerUpstream: 1 });
    const busy = fetchRaw(`${d.url}/busy`).catch((e: unknown) => e);
    await sleep(50);
    const r = await get(d.url, '/waits');
    expect(r.status).toBe(504);
    expect(JSON.parse(r.text)).toMatchObject({
      code: 'upstream-timeout',
      detail: expect.stringMatching(
        /every connection busy for 500 ms \(connectionsPerUpstream 1\); the request was not sent/,
      ),
    });
    expect(up.requests.map((q) => q.path)).toEqual(['/busy']);
    await busy;
  });

  it('answers 504 when the connection cannot be made in time', async () => {
    // A listener that never accepts: the child blocks its event loop right after listening, and two connections fill
    // its accept queue (backlog 1 holds two on Linux); a third connect hangs.
    const listener: ChildProcess = spawn(
      process.execPath,
      [
        '-e',
        "const s=require('node:net').createServer();s.listen({port:0,host:'127.0.0.1',backlog:1},()=>{process.stdout.write(s.address().port+'\\n');Atomics.wait(new Int32Array(new SharedArrayBuffer(4)),0,0,60000)})",
      ],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    cleanups.push(() => listener.kill('SIGKILL'));
    const port = await new Promise<number>((r) => listener.stdout!.once('data', (b) => r(Number(String(b).trim()))));
    for (let i = 0; i < 2; i++) {
      const filler = net.connect(port, '127.0.0.1');
      filler.on('error', () => {});
      cleanups.push(() => filler.destroy());
      await new Promise((r) => filler.once('connect', r));
    }
    const d = await dispatcher(`http://127.0.0.1:${port}`, { connectTimeoutMs: 300 });
    const r = await get(d.url, '/');
    expect(r.status).toBe(504);
    expect(JSON.parse(r.text)).toMatchObject({ code: 'upstream-timeout' });
  });

  it('answers 200, not 502, when the upstream closed an idle kept-alive connection', async () => {
    // node:http upstream with a short keep-alive: it closes the idle socket between the two requests.
    const up = await nodeUpstream((_req, res) => res.end('fresh'));
    up.server.keepAliveTimeout = 100;
    const d = await dispatcher(up.url);
    expect((await get(d.url, '/')).text).toBe('fresh');
    await sleep(300);
    expect((await get(d.url, '/')).text).toBe('fresh');
    // The race: the upstream closes just as the request arrives on the kept-alive connection.
    const racing = await raw((req, socket) => {
      if (req.index === 2) socket.end();
      else socket.write(sized('raced'));
    });
    const d2 = await dispatcher(racing.url);
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await get(d2.url, '/')).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);
  });

  it('streams request bodies byte for byte, sized and chunked, to an upstream that reads slowly', async () => {
    const up = await nodeUpstream((req, res) => {
      const hash = createHash('sha256');
      let length = 0;
      let sinceBreak = 0;
      req.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        length += chunk.length;
        sinceBreak += chunk.length;
        // Read 1 MiB, then stop reading for a while: the dispatcher must hold the client, not buffer.
        if (sinceBreak >= 1024 * 1024) {
          sinceBreak = 0;
          req.pause();
          setTimeout(() => req.resume(), 30);
        }
      });
      req.on('end', () =>
        res.end(
          JSON.stringify({
            length,
            sha256: hash.digest('hex'),
            te: req.headers['transfer-encoding'],
            cl: req.headers['content-length'],
          }),
        ),
      );
    });
    const d = await dispatcher(up.url);
    const big = randomBytes(8 * 1024 * 1024 + 13);
    const digest = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    const send = async (body: Buffer | Readable) => {
      const r = await request(`${d.url}/upload`, { method: 'POST', body, dispatcher: testHttpClient });
      expect(r.statusCode).toBe(200);
      return (await r.body.json()) as { length: number; sha256: string; te?: string; cl?: string };
    };
    expect(await send(big)).toEqual({ length: big.length, sha256: digest(big), cl: String(big.length) });
    // No length: undici sends it chunked; the dispatcher re-chunks it.
    const pieces = Array.from({ length: 40 }, (_, i) => randomBytes(1 + ((i * 7919) % 200_000)));
    const all = Buffer.concat(pieces);
    expect(await send(Readable.from(pieces))).toEqual({ length: all.length, sha256: digest(all), te: 'chunked' });
    expect(await send(Readable.from([]))).toMatchObject({ length: 0, sha256: digest(Buffer.alloc(0)) });
  });

  it('gives a slow client a large body byte for byte, sized or chunked, holding the upstream meanwhile', async () => {
    const body = randomBytes(6 * 1024 * 1024 + 7);
    const up = await nodeUpstream((req, res) => {
      // /sized: with Content-Length; /chunked: without (node:http chunks it), in 64 KiB writes.
      res.writeHead(200, req.url === '/sized' ? { 'content-length': body.length } : {});
      let at = 0;
      const more = () => {
        while (at < body.length) {
          const ok = res.write(body.subarray(at, at + 65536));
          at += 65536;
          if (!ok) return void res.once('drain', more);
        }
        res.end();
      };
      more();
    });
    const d = await dispatcher(up.url);
    for (const path of ['/sized', '/chunked']) {
      const received = await new Promise<Buffer>((resolve, reject) => {
        const req = httpRequest(`${d.url}${path}`, { agent: false }, (res) => {
          const chunks: Buffer[] = [];
          let sinceBreak = 0;
          res.on('data', (c: Buffer) => {
            chunks.push(c);
            sinceBreak += c.length;
            // Read 512 KiB, then nothing for a while: the dispatcher's writes to this client back up.
            if (sinceBreak >= 512 * 1024) {
              sinceBreak = 0;
              res.pause();
              setTimeout(() => res.resume(), 25);
            }
          });
          res.on('end', () => resolve(Buffer.concat(chunks)));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end();
      });
      expect({ path, length: received.length, same: received.equals(body) }).toEqual({
        path,
        length: body.length,
        same: true,
      });
    }
  });

  it('passes an early answer (413 before the upload ends) and lets the client finish sending', async () => {
    // It reads none of the body and answers a little later, when the dispatcher has had to stop reading the upload.
    const up = await nodeUpstream((_req, res) => {
      setTimeout(() => {
        res.writeHead(413, { 'content-type': 'text/plain' });
        res.end('too big');
      }, 100);
    });
    const d = await dispatcher(up.url);
    // One kept-alive client connection: the second request goes on it once the whole upload went through.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(() => agent.destroy());
    const sockets = new Set<unknown>();
    for (const path of ['/upload', '/again']) {
      const r = await fetchRaw(`${d.url}${path}`, { method: 'POST', body: randomBytes(8 * 1024 * 1024), agent });
      expect([r.status, r.body.toString()]).toEqual([413, 'too big']);
      sockets.add(r.socket);
    }
    expect(sockets.size).toBe(1);
  });

  it('a client that leaves mid-response closes the upstream connection, and the next request is served', async () => {
    const up = await raw((req, socket) => {
      if (req.path === '/long') socket.write(`HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\n\r\n${'x'.repeat(1000)}`);
      else socket.write(sized('short'));
    });
    const d = await dispatcher(up.url);
    await new Promise<void>((resolve, reject) => {
      const req = net.connect(Number(new URL(d.url).port), '127.0.0.1', () =>
        req.write('GET /long HTTP/1.1\r\nhost: x\r\n\r\n'),
      );
      req.on('error', reject);
      req.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    await up.closedConnection(1);
    expect((await get(d.url, '/short')).text).toBe('short');
    const metrics = (await get(d.adminUrl, '/metrics')).text;
    expect(metrics).not.toMatch(/greentic_dispatcher_errors_total\{[^}]*revision="r1"/);
  });

  it('names the refused connection in the 502 detail', async () => {
    const d = await dispatcher('http://127.0.0.1:1');
    const r = await get(d.url, '/');
    expect(r.status).toBe(502);
    expect((JSON.parse(r.text) as { detail: string }).detail).toContain('ECONNREFUSED');
  });
});
