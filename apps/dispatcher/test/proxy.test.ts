import { randomBytes } from 'node:crypto';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Dispatcher, startDispatcher } from '../src/index';
import {
  type ConfigFolder,
  client,
  createConfigFolder,
  get,
  oneDeployment,
  quiet,
  startWorker,
  type Worker,
} from './helpers';

describe('proxying', () => {
  let worker: Worker;
  let other: Worker;
  let folder: ConfigFolder;
  let dispatcher: Dispatcher;
  let trusting: Dispatcher;

  beforeAll(async () => {
    [worker, other, folder] = await Promise.all([startWorker('blue'), startWorker('green'), createConfigFolder()]);
    await folder.write({
      environment: 'local',
      generation: 1,
      deployments: [
        {
          name: 'support',
          tenant: 'acme',
          match: { hosts: ['support.acme.test'] },
          revisions: [
            { id: 'blue', state: 'ready', endpoint: worker.url, weight: 10_000 },
            { id: 'green', state: 'ready', endpoint: other.url, weight: 0 },
            // Nothing listens on port 1: connection refused.
            { id: 'dead', state: 'ready', endpoint: 'http://127.0.0.1:1', weight: 0 },
          ],
        },
        {
          name: 'slow',
          tenant: 'acme',
          match: { pathPrefixes: ['/slow'] },
          revisions: [{ id: 'r1', state: 'ready', endpoint: worker.url, weight: 10_000 }],
        },
      ],
    });
    const common = { configDir: folder.dir, listen: '127.0.0.1:0', upstreamTimeoutMs: 1500, log: quiet } as const;
    [dispatcher, trusting] = await Promise.all([
      startDispatcher({ ...common, trustSecret: 'trust-secret-0123456789' }),
      startDispatcher({ ...common, trustedCidrs: ['127.0.0.1/32'] }),
    ]);
    await Promise.all([dispatcher.waitForGeneration(1), trusting.waitForGeneration(1)]);
  });
  afterAll(async () => {
    await Promise.all([dispatcher?.close(), trusting?.close()]);
    await Promise.all([worker?.close(), other?.close(), folder?.remove()]);
  });

  const host = { host: 'support.acme.test' };

  it('removes hop-by-hop fields both ways and sets X-Forwarded-*', async () => {
    // node:http sends a Connection header naming extra fields as given (undici would rewrite it).
    const r = await new Promise<{ status: number; headers: Record<string, unknown> }>((resolve, reject) => {
      const req = httpRequest(
        `${dispatcher.url}/hello?x=1`,
        {
          headers: {
            ...host,
            connection: 'keep-alive, x-client-private',
            'x-client-private': 'secret-hop',
            'x-forwarded-for': '203.0.113.7',
            'x-kept': 'yes',
            te: 'trailers',
          },
          agent: false,
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(r.status).toBe(200);
    const seen = worker.seen.at(-1)!;
    expect(seen.url).toBe('/hello?x=1');
    expect(seen.headers['x-client-private']).toBeUndefined();
    expect(seen.headers.te).toBeUndefined();
    expect(seen.headers['x-kept']).toBe('yes');
    expect(seen.headers['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(seen.headers['x-forwarded-host']).toBe('support.acme.test');
    // The worker's Connection header named x-upstream-private: it must not reach the client.
    expect(r.headers['x-upstream-private']).toBeUndefined();
    expect(r.headers['x-worker']).toBe('blue');
  });

  it('streams large bodies both ways', async () => {
    const body = randomBytes(4 * 1024 * 1024);
    const r = await request(`${dispatcher.url}/echo`, { method: 'POST', body, headers: host, dispatcher: client });
    expect(r.statusCode).toBe(200);
    expect(Buffer.from(await r.body.arrayBuffer()).equals(body)).toBe(true);
  });

  it('answers 404 problem+json for a host no deployment serves, never another deployment', async () => {
    const r = await get(dispatcher.url, '/', { host: 'support.globex.test' });
    expect(r.status).toBe(404);
    expect(r.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(r.text)).toMatchObject({ status: 404, code: 'no-route' });
    expect(r.text).not.toContain('acme');
    // The host is acme's, but the tenant header says globex: no worker of acme answers it.
    const foreign = await get(dispatcher.url, '/', { ...host, 'x-greentic-tenant': 'globex' });
    expect(foreign.status).toBe(404);
    expect(foreign.worker).toBeUndefined();
    expect((await get(dispatcher.url, '/', { ...host, 'x-greentic-tenant': 'acme' })).worker).toBe('blue');
  });

  it('answers 502 upstream-unavailable when the revision refuses connections', async () => {
    const r = await get(trusting.url, '/', { ...host, 'x-greentic-revision': 'dead' });
    expect(r.status).toBe(502);
    expect(r.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(r.text)).toMatchObject({ code: 'upstream-unavailable', status: 502 });
  });

  it('passes a sized body sent in many chunks whole, and HEAD and 204 answers without one', async () => {
    const body = randomBytes(3 * 1024 * 1024);
    // Every byte value, in a small body (sent with the headers in one write) and in one split in two chunks.
    const small = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(700)]);
    const sized = createServer((req, res) => {
      if (req.url === '/empty') {
        res.writeHead(204).end();
        return;
      }
      if (req.url === '/small' || req.url === '/small-split') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': small.length });
        if (req.url === '/small') res.end(small);
        else {
          res.write(small.subarray(0, 100));
          setTimeout(() => res.end(small.subarray(100)), 5);
        }
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      // Three writes a turn apart: the dispatcher sees several chunks of one sized body.
      const third = body.length / 3;
      res.write(body.subarray(0, third));
      setImmediate(() => {
        res.write(body.subarray(third, 2 * third));
        setImmediate(() => res.end(body.subarray(2 * third)));
      });
    });
    await new Promise<void>((r) => sized.listen(0, '127.0.0.1', r));
    const own = await createConfigFolder();
    const endpoint = `http://127.0.0.1:${(sized.address() as AddressInfo).port}`;
    await own.write(oneDeployment(1, [{ id: 'r1', weight: 10_000, endpoint }]));
    const d = await startDispatcher({ configDir: own.dir, listen: '127.0.0.1:0', log: quiet });
    try {
      await d.waitForGeneration(1);
      const r = await request(`${d.url}/big`, { dispatcher: client });
      expect(r.statusCode).toBe(200);
      expect(r.headers['content-length']).toBe(String(body.length));
      expect(Buffer.from(await r.body.arrayBuffer()).equals(body)).toBe(true);
      for (const path of ['/small', '/small-split']) {
        const r = await request(`${d.url}${path}`, { dispatcher: client });
        expect(r.headers['content-length']).toBe(String(small.length));
        expect(Buffer.from(await r.body.arrayBuffer()).equals(small)).toBe(true);
      }
      const head = await request(`${d.url}/big`, { method: 'HEAD', dispatcher: client });
      expect(head.statusCode).toBe(200);
      expect(head.headers['content-length']).toBe(String(body.length));
      expect((await head.body.arrayBuffer()).byteLength).toBe(0);
      const empty = await request(`${d.url}/empty`, { dispatcher: client });
      expect(empty.statusCode).toBe(204);
      expect((await empty.body.arrayBuffer()).byteLength).toBe(0);
      await expect.poll(async () => (await d.snapshot()).deployments[0]?.revisions[0]?.inFlight).toBe(0);
    } finally {
      await d.close();
      sized.closeAllConnections();
      sized.close();
      await own.remove();
    }
  });

  it('a client that leaves stops the upstream request, frees its in-flight slot and counts no error', async () => {
    let arrived!: () => void;
    let upstreamClosed!: () => void;
    const reached = new Promise<void>((r) => (arrived = r));
    const closed = new Promise<void>((r) => (upstreamClosed = r));
    // An upstream that never answers; it notes when the dispatcher hangs up on it.
    const hanging = createServer((req) => {
      req.socket.once('close', upstreamClosed);
      arrived();
    });
    await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r));
    const own = await createConfigFolder();
    const endpoint = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}`;
    await own.write(oneDeployment(1, [{ id: 'r1', weight: 10_000, endpoint }]));
    const d = await startDispatcher({
      configDir: own.dir,
      listen: '127.0.0.1:0',
      upstreamTimeoutMs: 60_000,
      log: quiet,
    });
    try {
      await d.waitForGeneration(1);
      const req = httpRequest(`${d.url}/`, { agent: false });
      req.on('error', () => {});
      req.end();
      await reached;
      expect((await d.snapshot()).deployments[0]?.revisions[0]?.inFlight).toBe(1);
      req.destroy();
      await closed;
      await expect.poll(async () => (await d.snapshot()).deployments[0]?.revisions[0]?.inFlight).toBe(0);
      const metrics = (await get(d.adminUrl, '/metrics')).text;
      expect(metrics).not.toMatch(/greentic_dispatcher_errors_total\{[^}]*revision="r1"/);
      expect(metrics).toMatch(/greentic_dispatcher_requests_total\{[^}]*revision="r1"\} 1/);
    } finally {
      await d.close();
      hanging.closeAllConnections();
      hanging.close();
      await own.remove();
    }
  });

  it('answers 504 upstream-timeout when the revision is too slow', async () => {
    const r = await get(dispatcher.url, '/slow?ms=5000');
    expect(r.status).toBe(504);
    expect(JSON.parse(r.text)).toMatchObject({ code: 'upstream-timeout', status: 504 });
  });

  it('honours the trusted header only from a trusted CIDR or with the shared secret, and never forwards the secret', async () => {
    // `trusting` trusts 127.0.0.1/32: the header steers.
    expect((await get(trusting.url, '/', { ...host, 'x-greentic-revision': 'green' })).worker).toBe('green');
    // `dispatcher` trusts no CIDR: the header is silently ignored…
    const ignored = await get(dispatcher.url, '/', { ...host, 'x-greentic-revision': 'green' });
    expect(ignored.status).toBe(200);
    expect(ignored.worker).toBe('blue');
    // …unless the shared secret comes with it; the secret is not passed on.
    const withSecret = await get(dispatcher.url, '/', {
      ...host,
      'x-greentic-revision': 'green',
      'x-greentic-trust': 'trust-secret-0123456789',
    });
    expect(withSecret.worker).toBe('green');
    expect(other.seen.at(-1)!.headers['x-greentic-trust']).toBeUndefined();
    const wrongSecret = await get(dispatcher.url, '/', {
      ...host,
      'x-greentic-revision': 'green',
      'x-greentic-trust': 'wrong',
    });
    expect(wrongSecret.worker).toBe('blue');
  });

  it('serves /healthz, /readyz and per-revision Prometheus metrics on the admin listener', async () => {
    expect((await get(dispatcher.adminUrl, '/healthz')).status).toBe(200);
    expect((await get(dispatcher.adminUrl, '/readyz')).status).toBe(200);
    const metrics = (await get(dispatcher.adminUrl, '/metrics')).text;
    expect(metrics).toMatch(
      /greentic_dispatcher_requests_total\{tenant="acme",deployment="support",revision="blue"\} \d+/,
    );
    expect(metrics).toMatch(
      /greentic_dispatcher_request_duration_seconds_bucket\{le="0.005",tenant="acme",deployment="support",revision="blue"\}/,
    );
    expect(metrics).toMatch(
      /greentic_dispatcher_errors_total\{tenant="acme",deployment="slow",revision="r1",code="upstream-timeout"\} 1/,
    );
    expect(metrics).toContain('greentic_dispatcher_config_generation 1');
    expect(metrics).toContain('# TYPE greentic_dispatcher_request_duration_seconds histogram');
    const labels = 'tenant="acme",deployment="support",revision="blue"';
    const total = new RegExp(`greentic_dispatcher_requests_total\\{${labels}\\} (\\d+)`).exec(metrics)?.[1];
    const count = new RegExp(`greentic_dispatcher_request_duration_seconds_count\\{${labels}\\} (\\d+)`).exec(
      metrics,
    )?.[1];
    const inf = new RegExp(`_bucket\\{le="\\+Inf",${labels}\\} (\\d+)`).exec(metrics)?.[1];
    expect(Number(total)).toBeGreaterThan(0);
    expect(count).toBe(total);
    expect(inf).toBe(total);
  });

  it('is not ready (503) until a config is loaded', async () => {
    const empty = await createConfigFolder();
    const d = await startDispatcher({ configDir: empty.dir, listen: '127.0.0.1:0', log: quiet });
    try {
      const ready = await get(d.adminUrl, '/readyz');
      expect(ready.status).toBe(503);
      const proxied = await get(d.url, '/');
      expect(proxied.status).toBe(503);
      expect(JSON.parse(proxied.text)).toMatchObject({ code: 'not-ready' });
      await empty.write(oneDeployment(1, [{ id: 'blue', weight: 10_000, endpoint: worker.url }]));
      await d.waitForGeneration(1);
      expect((await get(d.adminUrl, '/readyz')).status).toBe(200);
      expect((await get(d.url, '/')).worker).toBe('blue');
    } finally {
      await d.close();
      await empty.remove();
    }
  });

  it('refuses bad options with a message naming the option and the fix', async () => {
    await expect(startDispatcher({ listen: '127.0.0.1:0' })).rejects.toThrow(/configDir \(--config-dir\)/);
    await expect(startDispatcher({ configDir: folder.dir, listen: 'nowhere' })).rejects.toThrow(
      /listen "nowhere" is not host:port/,
    );
    await expect(
      startDispatcher({ configDir: folder.dir, listen: '127.0.0.1:0', trustedCidrs: ['10.0.0.0/99'] }),
    ).rejects.toThrow(/--trusted-cidrs.*10.0.0.0\/99/);
    const bad = startDispatcher({ configDir: folder.dir, listen: '127.0.0.1:0', cookieKeys: ['tiny-secret'] });
    await expect(bad).rejects.toThrow(/16 or more characters/);
    await expect(bad).rejects.not.toThrow(/tiny-secret/);
  });
});
