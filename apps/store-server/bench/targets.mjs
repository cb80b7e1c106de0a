// The servers under test, in their own process (so autocannon does not steal their CPU):
// a bare Hono app (the baseline) and the store server over a SQLite file with group commit.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { silentLogger, startStoreServer } from '../dist/index.js';

const bare = new Hono();
bare.get('/x', (c) => c.json({ name: 'bench', slots: {}, config: { n: 1 } }));
bare.post('/x', async (c) => c.json(await c.req.json()));
const bareServer = serve({ fetch: bare.fetch, port: 0, hostname: '127.0.0.1' });
await new Promise((ok) => bareServer.once('listening', ok));

const dir = mkdtempSync(join(tmpdir(), 'greentic-bench-'));
const adminToken = process.env.BENCH_TOKEN;
const store = await startStoreServer({ db: join(dir, 'store.db'), port: 0, adminToken, logger: silentLogger });
await store.integrityChecked;
process.stdout.write(
  `${JSON.stringify({ bare: `http://127.0.0.1:${bareServer.address().port}`, store: store.url, dir })}\n`,
);
process.on('SIGTERM', async () => {
  bareServer.close();
  await store.close();
  process.exit(0);
});
