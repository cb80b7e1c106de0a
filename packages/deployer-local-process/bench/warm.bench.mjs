// Bench of greentic.deployer.local-process: how much the deployer adds on top of starting the worker by hand.
// Baseline (same run): spawn `node server.mjs` and poll GET /healthz until 200. Then the deployer's cold warm,
// an idempotent re-warm of a running revision, and status over 5 running revisions. Needs `pnpm build` first.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));
if (!existsSync(dist)) {
  console.error('[bench] build first: pnpm turbo run build --filter=@greentic/deployer-local-process...');
  process.exit(1);
}
const { createConformanceFixtures } = await import(dist);
const examples = fileURLToPath(new URL('../../../examples/', import.meta.url));
const server = join(examples, 'hello-worker', 'server.mjs');

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const now = () => performance.now();

async function healthyAt(port) {
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function baselineOnce(port) {
  const t0 = now();
  const child = spawn(process.execPath, [server], { env: { ...process.env, PORT: String(port) }, stdio: 'ignore' });
  await healthyAt(port);
  const ms = now() - t0;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  return ms;
}

function freePort() {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const N = 5;
const baseline = [];
for (let i = 0; i < N; i++) baseline.push(await baselineOnce(await freePort()));

const stateDir = mkdtempSync(join(tmpdir(), 'greentic-bench-'));
const f = createConformanceFixtures({ stateDir, bundlesDir: examples });
const cold = [];
const rewarm = [];
const targets = [];
try {
  for (let i = 0; i < N; i++) {
    const t = f.healthyTarget('bench', 'acme', `r${i}`);
    targets.push(t);
    const t0 = now();
    await f.pack.warm(f.ctx, t, { timeoutMs: 15_000 });
    cold.push(now() - t0);
  }
  for (let i = 0; i < 20; i++) {
    const t0 = now();
    await f.pack.warm(f.ctx, targets[i % N], { timeoutMs: 15_000 });
    rewarm.push(now() - t0);
  }
  const statusMs = [];
  for (let i = 0; i < 10; i++) {
    const t0 = now();
    await f.pack.status(f.ctx);
    statusMs.push(now() - t0);
  }
  const b = median(baseline);
  const c = median(cold);
  console.log(`baseline: spawn + healthy by hand       ${b.toFixed(1)} ms (median of ${N})`);
  console.log(`warm (cold start, detached, health gate) ${c.toFixed(1)} ms  ratio ${(c / b).toFixed(2)}x baseline`);
  console.log(
    `warm again (idempotent, same process)    ${median(rewarm).toFixed(1)} ms  ratio ${(median(rewarm) / b).toFixed(2)}x baseline`,
  );
  console.log(
    `status of ${N} running revisions          ${median(statusMs).toFixed(1)} ms  ratio ${(median(statusMs) / b).toFixed(2)}x baseline`,
  );
} finally {
  await f.cleanup();
  rmSync(stateDir, { recursive: true, force: true });
}
