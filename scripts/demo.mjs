// `pnpm demo`: a whole rollout on this machine, with the built code (run `pnpm build` first).
//
// 1. starts greentic-store-server on an embedded SQLite file in a temporary folder, and a dispatcher (the router)
//    that follows the runtime config the local-process deployer publishes for the `local` environment;
// 2. publishes examples/hello-worker as v1.0.0 and v2.0.0, stages and warms both revisions (health-gated);
// 3. sends 100% to v1, then 90/10, then 100% to v2, printing each `gtc` command and the share it observed through
//    the router (REQUESTS requests per step);
// 4. drains and archives v1, then stops everything it started and removes the temporary folder.
//
// Every `gtc` command runs as a real process against the store server, exactly as printed.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const REQUESTS = Number(process.env.DEMO_REQUESTS ?? 200);
const GTC = join(root, 'apps/cli/dist/gtc.js');
const STORE_SERVER = join(root, 'apps/store-server/dist/index.js');
const DISPATCHER = join(root, 'apps/dispatcher/dist/index.js');
const HELLO = join(root, 'examples/hello-worker');
const color = process.stdout.isTTY && !process.env.NO_COLOR;
const bold = (s) => (color ? `\u001b[1m${s}\u001b[22m` : s);
const dim = (s) => (color ? `\u001b[2m${s}\u001b[22m` : s);

function say(line) {
  console.log(`${bold('[demo]')} ${line}`);
}

for (const [file, what] of [
  [GTC, 'the gtc CLI (apps/cli)'],
  [STORE_SERVER, 'the store server (apps/store-server)'],
]) {
  if (!existsSync(file)) {
    console.error(
      `[demo] ${what} is not built (${relative(root, file)} is missing): run pnpm install && pnpm build first`,
    );
    process.exit(1);
  }
}

const work = mkdtempSync(join(tmpdir(), 'greentic-demo-'));
const home = join(work, 'home');
const token = randomBytes(24).toString('base64url');
let server;
let dispatcher;
let exitCode = 0;

/**
 * Run one gtc command as a real process, printing it first and its output indented. Asynchronous: the store
 * server and the dispatcher live in this process and must keep answering while gtc runs.
 */
async function gtc(...args) {
  return gtcExpect(0, ...args);
}

/** Run gtc and require the exit code `expected` (4 shows a refusal the operator would see). */
async function gtcExpect(expected, ...args) {
  console.log(`\n${bold('$')} gtc ${args.join(' ')}`);
  const child = spawn(process.execPath, [GTC, ...args], {
    env: {
      ...process.env,
      GREENTIC_HOME: home,
      GREENTIC_STORE_URL: server.url,
      GREENTIC_TOKEN: token,
      NO_COLOR: '1',
    },
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c) => {
    out += c;
  });
  child.stderr.on('data', (c) => {
    out += c;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const code = await new Promise((r) => child.once('close', r));
  clearTimeout(timer);
  out = out.trimEnd();
  if (out) console.log(out.replace(/^/gm, '  '));
  if (code !== expected) throw new Error(`gtc ${args.join(' ')} exited with ${code}, expected ${expected}`);
  if (expected !== 0) say(`refused as it should be (exit ${code}); nothing was changed`);
  return out;
}

const routesDir = () => join(home, 'state/local/greentic.deployer.local-process/runtime-config');

/** Wait until the dispatcher runs the config the deployer just published, then send REQUESTS requests. */
async function observe(label) {
  const published = JSON.parse(readFileSync(join(routesDir(), 'runtime-config.json'), 'utf8'));
  await dispatcher.waitForGeneration(published.generation, 10_000);
  const counts = new Map();
  for (let i = 0; i < REQUESTS; i++) {
    const res = await fetch(`${dispatcher.url}/hello?i=${i}`);
    const body = await res.json();
    const key = res.ok ? `${body.revision}` : `HTTP ${res.status}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const shares = [...counts.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([rev, n]) => `${rev} ${((100 * n) / REQUESTS).toFixed(1)}% (${n})`)
    .join(', ');
  say(`${label}: observed through the router over ${REQUESTS} requests: ${bold(shares)}`);
  return counts;
}

/**
 * Stop the workers the local-process deployer started: SIGTERM (they finish in-flight requests and exit), and
 * SIGKILL for any still alive after 5 s. Resolves once every one is gone.
 */
async function stopWorkers() {
  const stopped = [];
  const revisions = join(home, 'state/local/greentic.deployer.local-process/revisions');
  if (!existsSync(revisions)) return stopped;
  const alive = (pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const pids = [];
  for (const d of readdirSync(revisions)) {
    for (const r of readdirSync(join(revisions, d))) {
      const rec = join(revisions, d, r, 'process.json');
      if (!existsSync(rec)) continue;
      const { pid } = JSON.parse(readFileSync(rec, 'utf8'));
      if (!alive(pid)) continue;
      process.kill(pid, 'SIGTERM');
      pids.push(pid);
      stopped.push(`${d}/${r} (pid ${pid})`);
    }
  }
  const deadline = Date.now() + 5_000;
  while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  for (const pid of pids.filter(alive)) process.kill(pid, 'SIGKILL');
  return stopped;
}

try {
  const { startStoreServer, silentLogger } = await import(pathToFileURL(STORE_SERVER).href);
  server = await startStoreServer({ db: join(work, 'store.db'), port: 0, adminToken: token, logger: silentLogger });
  say(`store server on ${server.url} (embedded SQLite at ${join(work, 'store.db')})`);
  say('every gtc command below runs as its own process against that server (GREENTIC_STORE_URL, GREENTIC_TOKEN)');
  say('step 1, deploy: publish the bundle twice, stage one revision of each version, warm both until healthy');

  await gtc('op', 'env', 'list');
  await gtc('op', 'bundles', 'publish', relative(root, HELLO), '--version', '1.0.0');
  await gtc('op', 'bundles', 'publish', relative(root, HELLO), '--version', '2.0.0');
  await gtc('op', 'deployments', 'create', 'hello', '--bundle', 'hello-worker', '--tenant', 'demo');
  await gtc('op', 'revisions', 'stage', 'hello', '--bundle-version', '1.0.0', '--id', 'r1');
  await gtc('op', 'revisions', 'stage', 'hello', '--bundle-version', '2.0.0', '--id', 'r2');
  await gtc('op', 'revisions', 'warm', 'hello', 'r1');
  await gtc('op', 'revisions', 'warm', 'hello', 'r2');

  let startDispatcher;
  try {
    ({ startDispatcher } = await import(pathToFileURL(DISPATCHER).href));
  } catch (e) {
    say(`the dispatcher is not available (${e.message}); stopping after warming: both revisions are ready`);
  }
  if (startDispatcher) {
    dispatcher = await startDispatcher({ configDir: routesDir(), listen: '127.0.0.1:0', log: () => {} });
    say(`dispatcher (router) on ${dispatcher.url}, following ${relative(work, routesDir())}/runtime-config.json`);
    say('step 2, go live: both revisions run, but only the traffic dial decides who gets requests');

    await gtc('op', 'traffic', 'set', 'hello', 'r1=100');
    await observe('100% to r1 (v1.0.0)');
    say('canary: 10% of new requests to v2; the router picks per request by weight');
    await gtc('op', 'traffic', 'set', 'hello', 'r1=90', 'r2=10');
    await observe('90/10');
    say('v1 still serves 90%, so retiring it now is refused, with the next step spelled out:');
    await gtcExpect(4, 'op', 'revisions', 'drain', 'hello', 'r1');
    await gtc('op', 'traffic', 'set', 'hello', 'r2=100');
    const last = await observe('100% to r2 (v2.0.0)');
    if ((last.get('r1') ?? 0) > 0) throw new Error('requests still reached r1 after it got 0%');
    say(
      'step 3, retire v1: drain lets in-flight work finish, archive removes what is left (both refused while r1 holds traffic)',
    );

    await gtc('op', 'revisions', 'drain', 'hello', 'r1');
    await gtc('op', 'revisions', 'archive', 'hello', 'r1');
    await gtc('op', 'traffic', 'history', 'hello');
    await gtc('op', 'status');
    await observe('after r1 was archived');
  }
  say('done: deploying (stage, warm) and going live (traffic) were separate steps, every one recorded in the audit');
} catch (e) {
  exitCode = 1;
  console.error(`[demo] failed: ${e instanceof Error ? e.message : String(e)}`);
} finally {
  const stopped = server ? await stopWorkers() : [];
  await dispatcher?.close();
  await server?.close();
  rmSync(work, { recursive: true, force: true });
  console.log(
    `\n${dim(`[demo] cleaned up: stopped ${stopped.length > 0 ? `worker ${stopped.join(', ')}` : 'no workers'}, ${dispatcher ? 'the dispatcher, ' : ''}the store server; removed ${work}`)}`,
  );
}
process.exitCode = exitCode;
