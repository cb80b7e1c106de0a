// pnpm bench: bare Hono GET/POST vs store reads and durable CAS writes at 32 connections, plus the naive
// one-fsync-per-request ceiling over the same HTTP stack, all measured in this run. Goals (issue 4): reads ≥ 0.6 ×
// bare GET; durable writes ≥ 2 × the naive ceiling with p99 ≤ 10 ms. Each server runs in a process of its own
// (bench/targets.mjs), so autocannon does not steal its CPU and no server changes another one's globals.
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { casWrites } from './cas-writes.mjs';
import { startTarget } from './start-target.mjs';

const CONNECTIONS = 32;
const DURATION = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const token = `gtc_${randomBytes(24).toString('base64url')}`;

const children = [];
const start = async (role) => (await startTarget(role, token, children)).url;

const run = (opts) =>
  new Promise((ok, fail) =>
    autocannon({ connections: CONNECTIONS, duration: DURATION, ...opts }, (err, result) =>
      err ? fail(err) : ok(result),
    ),
  );
const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

async function measure(name, opts) {
  const r = await run(opts);
  const bad = r.non2xx + r.errors + r.timeouts;
  return { name, rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, bad };
}

/** The disk alone: one write + fsync after another, no HTTP (for reference; the ratio uses the HTTP ceiling). */
function diskLoop(seconds) {
  const dir = mkdtempSync(join(tmpdir(), 'greentic-fsync-'));
  const fd = openSync(join(dir, 'log'), 'a');
  const line = Buffer.from(`${'x'.repeat(200)}\n`);
  let n = 0;
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    writeSync(fd, line);
    fsyncSync(fd);
    n++;
  }
  closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
  return n / seconds;
}

try {
  const [bare, store, naive] = await Promise.all([start('bare'), start('store'), start('naive')]);
  // 32 environments, one per connection, so CAS writes measure the store, not contention.
  const etags = [];
  for (let i = 0; i < CONNECTIONS; i++) {
    const res = await fetch(`${store}/v1/environments/bench-${i}`, {
      method: 'PUT',
      headers: auth,
      body: JSON.stringify({ name: `bench-${i}`, slots: {}, config: { n: 0 } }),
    });
    if (res.status !== 201) throw new Error(`setup: ${res.status} ${await res.text()}`);
    etags.push(res.headers.get('etag'));
  }

  // Interleaved rounds: every round measures each figure once, and each ratio is the median of its per-round ratios.
  // The machine's speed drifts (a shared VM: the same bare GET has read 23k and 43k req/s minutes apart); figures
  // measured minutes apart would compare two machines, figures measured in the same round compare one.
  const writeName = 'durable CAS write (PUT config, If-Match)';
  /** A slot's current tag, read afresh (for writes still in flight when a run ended). */
  const tagOf = (base) => async (slot) =>
    (await fetch(`${base}/v1/environments/bench-${slot}`, { headers: auth })).headers.get('etag');
  const ceilingName = 'naive ceiling (1 write+fsync / request)';
  // The naive server ignores the tags, so none of its writes are refused.
  const naiveTags = Array.from({ length: CONNECTIONS }, () => '"v0"');
  const figures = [
    ['bareGet', (d) => measure('bare Hono GET', { url: `${bare}/x`, duration: d })],
    [
      'barePost',
      (d) =>
        measure('bare Hono POST', {
          url: `${bare}/x`,
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ n: 1 }),
          duration: d,
        }),
    ],
    [
      'reads',
      (d) =>
        measure('store read (GET environment)', {
          url: `${store}/v1/environments/bench-0`,
          headers: auth,
          duration: d,
        }),
    ],
    // Durable CAS writes through autocannon as well (bench/cas-writes.mjs): 32 connections over 32 environments,
    // each request with If-Match from the previous answer for its environment and a fresh Idempotency-Key.
    [
      'writes',
      (d) => casWrites({ name: writeName, base: store, etags, seconds: d, headers: auth, refresh: tagOf(store) }),
    ],
    ['ceiling', (d) => casWrites({ name: ceilingName, base: naive, etags: naiveTags, seconds: d, headers: auth })],
  ];
  for (const [, run] of figures) await run(1); // warm-up
  const rounds = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const r = {};
    for (const [key, run] of figures) r[key] = await run(DURATION);
    rounds.push(r);
    console.log(
      `round ${round}: ${figures.map(([k]) => `${k} ${r[k].rps.toFixed(0)}`).join(', ')}, write p99 ${r.writes.p99} ms`,
    );
  }
  const disk = diskLoop(2);
  const median = (xs) => {
    const v = [...xs].sort((a, b) => a - b);
    const m = Math.floor(v.length / 2);
    return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
  };
  const row = (key) => ({
    name: rounds[0][key].name,
    rps: median(rounds.map((r) => r[key].rps)),
    p50: median(rounds.map((r) => r[key].p50)),
    p99: median(rounds.map((r) => r[key].p99)),
    bad: rounds.reduce((n, r) => n + r[key].bad, 0),
  });
  const ratio = (a, b) => median(rounds.map((r) => r[a].rps / r[b].rps));

  const fmt = (n) => n.toFixed(0).padStart(8);
  console.log(
    `\nconnections ${CONNECTIONS}, ${ROUNDS} interleaved rounds of ${DURATION} s per figure (medians), one process per server\n`,
  );
  console.log('what                                       req/s   p50 ms   p99 ms   non-2xx/errors');
  for (const r of figures.map(([key]) => row(key))) {
    console.log(
      `${r.name.padEnd(40)} ${fmt(r.rps)} ${String(r.p50).padStart(8)} ${String(r.p99).padStart(8)}   ${r.bad}`,
    );
  }
  console.log(`${'  (the disk alone: write+fsync loop)'.padEnd(40)} ${fmt(disk)}`);
  const readRatio = ratio('reads', 'bareGet');
  const writeVsPost = ratio('writes', 'barePost');
  const writeVsCeiling = ratio('writes', 'ceiling');
  const writeP99 = row('writes').p99;
  console.log('\nratios (median of the per-round ratios)');
  console.log(
    `  store read / bare GET          ${readRatio.toFixed(2)}   (goal ≥ 0.60: ${readRatio >= 0.6 ? 'met' : 'NOT met'})`,
  );
  console.log(`  durable write / bare POST      ${writeVsPost.toFixed(2)}`);
  console.log(
    `  durable write / naive ceiling  ${writeVsCeiling.toFixed(2)}   (goal ≥ 2.00: ${writeVsCeiling >= 2 ? 'met' : 'NOT met'}; ${(row('writes').rps / disk).toFixed(2)} against the disk alone)`,
  );
  console.log(`  durable write p99              ${writeP99} ms (goal ≤ 10 ms: ${writeP99 <= 10 ? 'met' : 'NOT met'})`);
} finally {
  for (const child of children) child.kill('SIGTERM');
}
