// CPU A/B of two builds of the store server: `node bench/cpu-ab.mjs <dist A> <dist B>` (each a dist folder, e.g. a
// copy of dist/ made before a change, and dist/). Both servers run at once, each in its own process, and every
// round loads both at the same time with the same client (32 connections): other load on the machine then hits
// both alike, which a comparison of runs made one after the other cannot promise on a shared machine. Prints the
// server CPU per request (user + system, from /proc) of store reads (GET environment) and of durable CAS writes
// (PUT config with If-Match and a fresh Idempotency-Key, as bench.mjs sends them), per round and as medians.
// ROUNDS (default 8), SECS (default 3), MODE (rw, r or w).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import autocannon from 'autocannon';
import { casWrites } from './cas-writes.mjs';
import { startTarget } from './start-target.mjs';

const ROUNDS = Number(process.env.ROUNDS ?? 8);
const SECS = Number(process.env.SECS ?? 3);
const MODE = process.env.MODE ?? 'rw';
const builds = process.argv.slice(2);
if (builds.length !== 2) throw new Error('usage: node bench/cpu-ab.mjs <dist A> <dist B>');
const token = `gtc_${randomBytes(24).toString('base64url')}`;
const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
const children = [];

/** CPU time (user + system) of a process so far, in µs. */
const cpu = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 10_000;
};

const reads = (url, seconds) =>
  new Promise((ok, fail) =>
    autocannon(
      { url: `${url}/v1/environments/bench-0`, headers: auth, connections: 32, duration: seconds },
      (err, r) => (err ? fail(err) : ok({ done: r.requests.total, bad: r.non2xx + r.errors + r.timeouts })),
    ),
  );

/** bench.mjs's CAS writes: each of 32 connections writes its own environment, chaining If-Match. */
const writes = (url, etags, seconds) =>
  casWrites({
    name: 'write',
    base: url,
    etags,
    seconds,
    headers: auth,
    refresh: async (slot) =>
      (await fetch(`${url}/v1/environments/bench-${slot}`, { headers: auth })).headers.get('etag'),
  });

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

try {
  const targets = [];
  for (const build of builds) {
    const dist = pathToFileURL(join(resolve(build), 'index.js')).href;
    const t = await startTarget('store', token, children, { STORE_DIST: dist });
    t.etags = [];
    for (let i = 0; i < 32; i++) {
      const res = await fetch(`${t.url}/v1/environments/bench-${i}`, {
        method: 'PUT',
        headers: auth,
        body: JSON.stringify({ name: `bench-${i}`, slots: {}, config: { n: 0 } }),
      });
      if (res.status !== 201) throw new Error(`setup: ${res.status} ${await res.text()}`);
      t.etags.push(res.headers.get('etag'));
    }
    targets.push({ ...t, us: { r: [], w: [] } });
  }
  const kinds = [...MODE].filter((k) => k === 'r' || k === 'w');
  const load = (kind, t, seconds) => (kind === 'r' ? reads(t.url, seconds) : writes(t.url, t.etags, seconds));
  for (const kind of kinds) await Promise.all(targets.map((t) => load(kind, t, 1))); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    const line = [];
    for (const kind of kinds) {
      const before = targets.map((t) => cpu(t.pid));
      const results = await Promise.all(targets.map((t) => load(kind, t, SECS)));
      targets.forEach((t, i) => {
        const us = (cpu(t.pid) - before[i]) / results[i].done;
        t.us[kind].push(us);
        line.push(
          `${'AB'[i]} ${kind === 'r' ? 'read' : 'write'} ${(results[i].done / SECS).toFixed(0)} req/s ${us.toFixed(1)} µs bad ${results[i].bad}`,
        );
      });
    }
    console.log(line.join(' | '));
  }
  targets.forEach((t, i) => {
    const parts = kinds.map((k) => `${k === 'r' ? 'read' : 'write'} ${median(t.us[k]).toFixed(1)} µs`);
    console.log(`${'AB'[i]} ${builds[i]}: median CPU per request: ${parts.join(', ')}`);
  });
} finally {
  for (const child of children) child.kill('SIGTERM');
}
