// The dispatcher under load, next to its baselines, in one run: the same autocannon load (32 connections)
// direct to a worker, through the dispatcher (weighted + signed cookie; sticky cookie) and through nginx with
// split_clients (Debian's nginx; installed with apt-get when missing, else that row is skipped).
// Goal: >= 0.75 of nginx's req/s with p99 <= 2x nginx's; routing decision alone >= 2 M/s in-process.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const here = fileURLToPath(new URL('.', import.meta.url));
const DURATION = Number(process.env.BENCH_SECONDS ?? 5);
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

function ensureNginx() {
  if (spawnSync('sh', ['-c', 'command -v nginx'], { stdio: 'ignore' }).status === 0) return true;
  console.log('nginx not found; trying: apt-get install -y nginx-light');
  const r = spawnSync('sh', ['-c', 'apt-get install -y -q nginx-light || apt-get install -y -q nginx'], {
    stdio: 'ignore',
  });
  if (r.status === 0) return true;
  console.log('nginx not installed: apt-get install nginx   (the nginx row is skipped)');
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

function load(url, headers = {}, duration = DURATION) {
  return new Promise((resolve, reject) => {
    autocannon({ url, connections: CONNECTIONS, duration, headers }, (err, result) => {
      if (err) reject(err);
      else resolve(result);
    });
  });
}

async function measure(label, url, headers, pid) {
  await load(url, headers, 1); // warm-up: JIT, keep-alive pools
  const cpu0 = cpuMs(pid);
  const r = await load(url, headers);
  const cpuPerRequest = ((cpuMs(pid) - cpu0) * 1000) / r.requests.total;
  const row = { label, rps: r.requests.average, p99: r.latency.p99, errors: r.errors + r.non2xx, cpuPerRequest };
  console.log(
    `${label.padEnd(44)} ${row.rps.toFixed(0).padStart(8)} req/s   p99 ${String(row.p99).padStart(4)} ms   ${Number.isNaN(cpuPerRequest) ? '   ?' : cpuPerRequest.toFixed(0).padStart(4)} CPU-µs/req   errors ${row.errors}`,
  );
  return row;
}

try {
  const [blueWorker, greenWorker] = await Promise.all([startWorker('blue'), startWorker('green')]);
  const [blue, green] = [blueWorker.url, greenWorker.url];
  const dispatcherProcess = await startDispatcherProcess(blue, green);
  const dispatcher = dispatcherProcess.url;
  const bareChild = startChild(process.execPath, [join(here, 'bare-proxy.mjs'), blue]);
  const [, barePort] = await firstLine(bareChild, /^(\d+)\n/);
  const haveNginx = ensureNginx();
  const nginx = haveNginx
    ? await startNginx(blue, green).catch((e) => (console.log(`nginx row skipped: ${e.message}`), undefined))
    : undefined;
  const first = await fetch(dispatcher);
  const cookie = (first.headers.get('set-cookie') ?? '').split(';')[0];

  console.log(
    `autocannon: ${CONNECTIONS} connections, ${DURATION} s per row (after a 1 s warm-up), 2 CPU cores shared by all processes`,
  );
  const dpid = dispatcherProcess.pid;
  // Warm the dispatcher's every path (JIT) before any row is measured.
  for (const headers of [{}, { cookie }, { 'x-greentic-session': 'bench-session' }]) await load(dispatcher, headers, 1);
  const direct = await measure('direct to a worker', blue, {}, blueWorker.pid);
  const bare = await measure(
    'bare undici proxy (no routing, Node floor)',
    `http://127.0.0.1:${barePort}`,
    {},
    bareChild.pid,
  );
  const weighted = await measure('dispatcher: weighted 90/10 + signed cookie', dispatcher, {}, dpid);
  const sticky = await measure('dispatcher: sticky (signed cookie verified)', dispatcher, { cookie }, dpid);
  const pinned = await measure(
    'dispatcher: sticky (session pin, memory)',
    dispatcher,
    { 'x-greentic-session': 'bench-session' },
    dpid,
  );
  const viaNginx = nginx ? await measure('nginx split_clients 90/10', nginx.url, {}, nginx.pid) : undefined;

  console.log('');
  const ratio = (a, b) => (a / b).toFixed(2);
  console.log(`dispatcher weighted / direct  req/s ${ratio(weighted.rps, direct.rps)}`);
  console.log(
    `dispatcher weighted / bare undici proxy  req/s ${ratio(weighted.rps, bare.rps)} (the cost of routing, metrics, cookies)`,
  );
  if (viaNginx) {
    for (const row of [weighted, sticky, pinned]) {
      const rr = row.rps / viaNginx.rps;
      const pr = row.p99 / Math.max(viaNginx.p99, 1);
      console.log(
        `${row.label} vs nginx: req/s ${rr.toFixed(2)} (goal >= 0.75: ${rr >= 0.75 ? 'met' : 'NOT met'}), p99 ${pr.toFixed(2)}x (goal <= 2: ${pr <= 2 ? 'met' : 'NOT met'}), CPU per request ${(row.cpuPerRequest / viaNginx.cpuPerRequest).toFixed(2)}x`,
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
