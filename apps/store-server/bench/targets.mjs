// One server under test per process (`node targets.mjs bare|store|naive`), so each runs as it would in
// production: in particular @hono/node-server's `serve()` replaces the process's global Request/Response (its
// default), which the store server must neither need nor do, so the two never share a process.
//   bare   a bare Hono app on `serve()`: the baseline GET and POST.
//   store  the store server over a SQLite file (WAL, synchronous=FULL, group commit), started as the bin starts it
//          (from ../dist, or the build STORE_DIST names).
//   naive  the honest naive ceiling: the same HTTP stack (node:http, @hono/node-server, Hono) where each write request
//          parses its JSON body, appends one line to a file and fsyncs it before answering, one after another:
//          what a durable server without group commit can at best do on this disk.
// Prints one JSON line ({ url, dir }) on stdout when listening; SIGTERM stops it.
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

const role = process.argv[2];
const dir = mkdtempSync(join(tmpdir(), `greentic-bench-${role}-`));
let url;
let stop;

if (role === 'bare') {
  const bare = new Hono();
  bare.get('/x', (c) => c.json({ name: 'bench', slots: {}, config: { n: 1 } }));
  bare.post('/x', async (c) => c.json(await c.req.json()));
  const server = serve({ fetch: bare.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise((ok) => server.once('listening', ok));
  url = `http://127.0.0.1:${server.address().port}`;
  stop = () => {
    server.closeAllConnections();
    return new Promise((ok) => server.close(ok));
  };
} else if (role === 'store') {
  // STORE_DIST: another build of this package (its dist/index.js), for A/B runs (bench/cpu-ab.mjs).
  const { silentLogger, startStoreServer } = await import(process.env.STORE_DIST ?? '../dist/index.js');
  const store = await startStoreServer({
    db: join(dir, 'store.db'),
    port: 0,
    adminToken: process.env.BENCH_TOKEN,
    logger: silentLogger,
  });
  await store.integrityChecked;
  url = store.url;
  stop = () => store.close();
} else if (role === 'naive') {
  const fd = openSync(join(dir, 'log'), 'a');
  const naive = new Hono();
  let version = 0;
  naive.put('/v1/environments/:name/config', async (c) => {
    const body = await c.req.json();
    version++;
    writeSync(fd, `${JSON.stringify({ name: c.req.param('name'), version, body })}\n`);
    fsyncSync(fd); // durable before the answer: one fsync per request, nothing shared
    return c.json(body, 200, { ETag: `"v${version}"` });
  });
  const server = serve({ fetch: naive.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise((ok) => server.once('listening', ok));
  url = `http://127.0.0.1:${server.address().port}`;
  stop = async () => {
    server.closeAllConnections();
    await new Promise((ok) => server.close(ok));
    closeSync(fd);
  };
} else {
  throw new Error(`usage: node targets.mjs bare|store|naive (got ${role})`);
}

process.stdout.write(`${JSON.stringify({ url, dir })}\n`);
process.on('SIGTERM', async () => {
  await stop();
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
});
