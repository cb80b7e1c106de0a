import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RuntimeConfig } from '@greentic/deploy-spec';
import { Agent, request } from 'undici';

/** A real upstream worker: answers with its name, echoes what it saw; `/slow?ms=` delays, `/echo` streams back. */
export interface Worker {
  readonly name: string;
  readonly url: string;
  readonly seen: { method: string; url: string; headers: IncomingHttpHeaders }[];
  close(): Promise<void>;
}

export async function startWorker(name: string): Promise<Worker> {
  const seen: Worker['seen'] = [];
  const server: Server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    if (seen.length > 100) seen.shift();
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/echo') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-worker': name });
      req.pipe(res);
      return;
    }
    const reply = () => {
      if (res.destroyed) return;
      res.writeHead(200, {
        'content-type': 'application/json',
        'x-worker': name,
        connection: 'keep-alive, x-upstream-private',
        'x-upstream-private': 'hop',
        'keep-alive': 'timeout=5',
      });
      res.end(JSON.stringify({ worker: name, headers: req.headers }));
    };
    req.resume();
    const ms = Number(url.searchParams.get('ms') ?? 0);
    if (url.pathname === '/slow' && ms > 0) setTimeout(reply, ms);
    else req.on('end', reply);
  });
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    name,
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A config folder written the way the local-process deployer writes it: tmp + rename. */
export interface ConfigFolder {
  readonly dir: string;
  write(config: RuntimeConfig): Promise<void>;
  remove(): Promise<void>;
}

export async function createConfigFolder(): Promise<ConfigFolder> {
  const dir = await mkdtemp(join(tmpdir(), 'greentic-dispatcher-'));
  let n = 0;
  return {
    dir,
    async write(config) {
      const tmp = join(dir, `.runtime-config.json.${n++}.tmp`);
      await writeFile(tmp, JSON.stringify(config));
      await rename(tmp, join(dir, 'runtime-config.json'));
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

type Rev = { id: string; state?: 'ready' | 'draining'; weight: number; endpoint: string };

/** A one-deployment runtime config (tenant acme, deployment support). */
export function oneDeployment(generation: number, revisions: Rev[]): RuntimeConfig {
  return {
    environment: 'local',
    generation,
    deployments: [
      {
        name: 'support',
        tenant: 'acme',
        revisions: revisions.map((r) => ({ state: 'ready', ...r })),
      },
    ],
  };
}

export const client = new Agent({ connections: 64, keepAliveTimeout: 10_000 });

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  worker: string | undefined;
}

/** One real HTTP request through the dispatcher. */
export async function get(base: string, path = '/', headers: Record<string, string> = {}): Promise<Reply> {
  const r = await request(base + path, { dispatcher: client, headers });
  const text = await r.body.text();
  const worker = r.headers['x-worker'];
  return { status: r.statusCode, headers: r.headers, text, worker: typeof worker === 'string' ? worker : undefined };
}

/** Run `total` tasks with at most `concurrency` at a time. */
export async function pool<T>(total: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(total);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, total) }, async () => {
      while (next < total) {
        const i = next++;
        out[i] = await task(i);
      }
    }),
  );
  return out;
}

export const quiet = () => {};
