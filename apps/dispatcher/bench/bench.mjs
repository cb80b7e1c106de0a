// The dispatcher under load, next to its baselines, in one run: the same load (wrk, else autocannon; 32
// connections) direct to a worker, through a bare undici proxy (the reference), through the dispatcher (weighted +
// signed cookie; sticky cookie; session pin) and through nginx with split_clients (Debian's nginx, one worker
// process, keep-alive upstreams; installed with apt-get when missing, else that row is skipped).
// Goal: >= 0.75 of nginx's req/s with p99 <= 2x nginx's; routing decision alone >= 2 M/s in-process.
// The rows run in interleaved rounds (BENCH_ROUNDS, default 3) and each row keeps the best of each figure over its
// rounds, the same rule for every row: on a shared machine that damps other load. CPU per request (from /proc) is
// the figure that load disturbs least.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const here = fileURLToPath(new URL('.', import.meta.url));
const DURATION = Number(process.env.BENCH_SECONDS ?? 4);
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const CONNECTIONS = 32;
const children = [];
const scratch = mkdtempSync(join(tmpdir(), 'greentic-dispatcher-bench-'));

function startChild(command, args, options = {}) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  children.push(child);
  return child;
}

function firstLine(child, pattern) {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}: ${text}`)), 15_000);
    const onData = (b) => {
      text += b.toString();
      const m = pattern.exec(text);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`exited with ${code}: ${text}`)));
  });
}

async function startWorker(name) {
  const child = startChild(process.execPath, [join(here, 'worker.mjs'), name]);
  const [, port] = await firstLine(child, /^(\d+)\n/);
  return { url: `http://127.0.0.1:${port}`, pid: child.pid };
}

/** True when `command` is on PATH, after trying `apt-get install` of `packages` (in order) when it is not. */
function ensureCommand(command, packages) {
  const have = () => spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
  if (have()) return true;
  for (const pkg of packages) {
    console.log(`${command} not found; trying: apt-get install -y ${pkg}`);
    if (spawnSync('apt-get', ['install', '-y', '-q', pkg], { stdio: 'ignore' }).status === 0 && have()) return true;
  }
  return false;
}

async function startNginx(blue, green) {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const conf = join(scratch, 'nginx.conf');
  writeFileSync(
    conf,
    `worker_processes 1;
master_process off;
daemon off;
pid ${scratch}/nginx.pid;
error_log ${scratch}/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${scratch}/body;
  proxy_temp_path ${scratch}/proxy;
  fastcgi_temp_path ${scratch}/fastcgi;
  uwsgi_temp_path ${scratch}/uwsgi;
  scgi_temp_path ${scratch}/scgi;
  upstream blue { server ${blue.replace('http://', '')}; keepalive 64; }
  upstream green { server ${green.replace('http://', '')}; keepalive 64; }
  split_clients "\${request_id}" $revision { 90% blue; * green; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://$revision;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $host;
    }
  }
}
`,
  );
  const child = startChild('nginx', ['-p', scratch, '-c', conf]);
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(url);
      if (r.ok) return { url, pid: child.pid };
    } catch {}
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('nginx did not start');
}

async function startDispatcherProcess(blue, green) {
  const configDir = join(scratch, 'runtime-config');
  spawnSync('mkdir', ['-p', configDir]);
  writeFileSync(
    join(configDir, 'runtime-config.json'),
    JSON.stringify({
      environment: 'bench',
      generation: 1,
      deployments: [
        {
          name: 'support',
          tenant: 'acme',
          revisions: [
            { id: 'blue', state: 'ready', endpoint: blue, weight: 9000 },
            { id: 'green', state: 'ready', endpoint: green, weight: 1000 },
          ],
        },
      ],
    }),
  );
  const child = startChild(
    process.execPath,
    [
      join(here, '../dist/greentic-dispatcher.js'),
      '--config-dir',
      configDir,
      '--listen',
      '127.0.0.1:0',
      '--admin-listen',
      '127.0.0.1:0',
    ],
    { env: { ...process.env, GREENTIC_COOKIE_KEYS: 'bench-cookie-key-0123456789abcdef' } },
  );
  const [, url] = await firstLine(child, /proxy on (http:\S+),/);
  return { url, pid: child.pid };
}

// CPU time (user + system) a process has used, in ms, from /proc (Linux): a figure that stays meaningful when
// other work shares the machine, unlike req/s.
function cpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return Number.NaN;
  }
}

// One load run: wrk (C, one thread: leaves the cores to the processes under test) when installed, else autocannon
// (in this process). Both keep 32 connections busy for `duration` seconds.
const useWrk = ensureCommand('wrk', ['wrk']);

function load(url, headers = {}, duration = DURATION) {
  return useWrk ? loadWrk(url, headers, duration) : loadAutocannon(url, headers, duration);
}

function loadAutocannon(url, headers, duration) {
  return new Promise((resolve, reject) => {
    autocannon({ url, connections: CONNECTIONS, duration, headers }, (err, r) => {
      if (err) reject(err);
      else
        resolve({ total: r.requests.total, rps: r.requests.average, p99: r.latency.p99, errors: r.errors + r.non2xx });
    });
  });
}

function loadWrk(url, headers, duration) {
  const args = ['-t1', `-c${CONNECTIONS}`, `-d${duration}s`, '--latency'];
  for (const [name, value] of Object.entries(headers)) args.push('-H', `${name}: ${value}`);
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', [...args, url], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (b) => {
      out += b;
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      const total = /(\d+) requests in/.exec(out);
      const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
      const p99 = /^\s+99%\s+([\d.]+)(us|ms|s)\s*$/m.exec(out);
      if (code !== 0 || !total || !rps || !p99) {
        reject(new Error(`wrk failed (${code}): ${out}`));
        return;
      }
      const scale = { us: 0.001, ms: 1, s: 1000 }[p99[2]];
      const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
      const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      const socketErrors = socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
      resolve({
        total: Number(total[1]),
        rps: Number(rps[1]),
        p99: Number(p99[1]) * scale,
        errors: non2xx + socketErrors,
      });
    });
  });
}

/** One measured run of a row: a 1 s warm-up, then DURATION seconds with the process's CPU time counted. */
async function run(row) {
  await load(row.url, row.headers, 1); // warm-up: JIT, keep-alive pools
  const cpu0 = cpuMs(row.pid);
  const r = await load(row.url, row.headers);
  return { ...r, cpuPerRequest: ((cpuMs(row.pid) - cpu0) * 1000) / r.total };
}

function print(label, r) {
  const cpu = Number.isNaN(r.cpuPerRequest) ? '   ?' : r.cpuPerRequest.toFixed(0).padStart(4);
  console.log(
    `${label.padEnd(44)} ${r.rps.toFixed(0).padStart(8)} req/s   p99 ${r.p99.toFixed(1).padStart(6)} ms   ${cpu} CPU-µs/req   errors ${r.errors}`,
  );
}

try {
  const [blueWorker, greenWorker] = await Promise.all([startWorker('blue'), startWorker('green')]);
  const [blue, green] = [blueWorker.url, greenWorker.url];
  const dispatcherProcess = await startDispatcherProcess(blue, green);
  const dispatcher = dispatcherProcess.url;
  const bareChild = startChild(process.execPath, [join(here, 'bare-proxy.mjs'), blue]);
  const [, barePort] = await firstLine(bareChild, /^(\d+)\n/);
  let nginx;
  if (ensureCommand('nginx', ['nginx-light', 'nginx'])) {
    nginx = await startNginx(blue, green).catch((e) => {
      console.log(`nginx row skipped: ${e.message}`);
      return undefined;
    });
  } else {
    console.log('nginx not installed: apt-get install nginx   (the nginx row is skipped)');
  }
  const first = await fetch(dispatcher);
  const cookie = (first.headers.get('set-cookie') ?? '').split(';')[0];

  console.log(
    `${useWrk ? 'wrk -t1' : 'autocannon'}: ${CONNECTIONS} connections, ${DURATION} s per row after a 1 s warm-up, ${ROUNDS} interleaved round(s), best of each figure kept; CPU cores shared by all processes`,
  );
  const dpid = dispatcherProcess.pid;
  // Warm the dispatcher's every path (JIT) before any row is measured.
  for (const headers of [{}, { cookie }, { 'x-greentic-session': 'bench-session' }]) await load(dispatcher, headers, 1);
  const rows = [
    { key: 'direct', label: 'direct to a worker', url: blue, headers: {}, pid: blueWorker.pid },
    {
      key: 'bare',
      label: 'bare undici proxy (no routing, reference)',
      url: `http://127.0.0.1:${barePort}`,
      headers: {},
      pid: bareChild.pid,
    },
    { key: 'weighted', label: 'dispatcher: weighted 90/10 + signed cookie', url: dispatcher, headers: {}, pid: dpid },
    {
      key: 'sticky',
      label: 'dispatcher: sticky (signed cookie verified)',
      url: dispatcher,
      headers: { cookie },
      pid: dpid,
    },
    {
      key: 'pinned',
      label: 'dispatcher: sticky (session pin, memory)',
      url: dispatcher,
      headers: { 'x-greentic-session': 'bench-session' },
      pid: dpid,
    },
    ...(nginx
      ? [{ key: 'nginx', label: 'nginx split_clients 90/10', url: nginx.url, headers: {}, pid: nginx.pid }]
      : []),
  ];
  const best = {};
  for (let round = 1; round <= ROUNDS; round++) {
    // Alternate the order between rounds so no row always runs first or last.
    for (const row of round % 2 === 1 ? rows : [...rows].reverse()) {
      const r = await run(row);
      if (ROUNDS > 1) print(`  round ${round}: ${row.key}`, r);
      const b = best[row.key];
      best[row.key] =
        b === undefined
          ? r
          : {
              rps: Math.max(b.rps, r.rps),
              p99: Math.min(b.p99, r.p99),
              cpuPerRequest: Math.min(b.cpuPerRequest, r.cpuPerRequest),
              errors: b.errors + r.errors,
            };
    }
  }
  if (ROUNDS > 1)
    console.log('per row, the best of its rounds (highest req/s, lowest p99, lowest CPU; errors summed):');
  for (const row of rows) print(row.label, best[row.key]);
  const { direct, bare, weighted, sticky, pinned } = best;
  const viaNginx = best.nginx;

  console.log('');
  const ratio = (a, b) => (a / b).toFixed(2);
  console.log(`dispatcher weighted / direct  req/s ${ratio(weighted.rps, direct.rps)}`);
  console.log(
    `dispatcher weighted / bare undici proxy  req/s ${ratio(weighted.rps, bare.rps)}, CPU per request ${ratio(weighted.cpuPerRequest, bare.cpuPerRequest)}x (routing, metrics and cookies on the dispatcher's own upstream client)`,
  );
  if (viaNginx) {
    for (const [label, row] of [
      ['dispatcher: weighted 90/10 + signed cookie', weighted],
      ['dispatcher: sticky (signed cookie verified)', sticky],
      ['dispatcher: sticky (session pin, memory)', pinned],
    ]) {
      const rr = row.rps / viaNginx.rps;
      const pr = row.p99 / Math.max(viaNginx.p99, 0.001);
      console.log(
        `${label} vs nginx: req/s ${rr.toFixed(2)} (goal >= 0.75: ${rr >= 0.75 ? 'met' : 'NOT met'}), p99 ${pr.toFixed(2)}x (goal <= 2: ${pr <= 2 ? 'met' : 'NOT met'}), CPU per request ${(row.cpuPerRequest / viaNginx.cpuPerRequest).toFixed(2)}x`,
      );
    }
  }
  console.log('');
  console.log('routing decision alone (in-process, @greentic/router-core):');
  spawnSync(process.execPath, [join(here, '../../../packages/router-core/bench/decision-rate.mjs')], {
    stdio: 'inherit',
  });
} finally {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 200));
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(scratch, { recursive: true, force: true });
}
