// Read-only A/B helper: bare GET vs store GET, alternating rounds, with server CPU µs per request from /proc.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { startTarget } from './start-target.mjs';

const token = `gtc_${randomBytes(24).toString('base64url')}`;
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SECS = Number(process.env.SECS ?? 3);
const children = [];
const start = (role) => startTarget(role, token, children);
const cpu = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (process.env.SYS ? Number(f[12]) : Number(f[11]) + Number(f[12])) * 10000;
};
const run = (opts) =>
  new Promise((ok, fail) => autocannon({ connections: 32, duration: SECS, ...opts }, (e, r) => (e ? fail(e) : ok(r))));
const auth = { authorization: `Bearer ${token}` };
try {
  const [bare, store] = await Promise.all([start('bare'), start('store')]);
  const r0 = await fetch(`${store.url}/v1/environments/bench-0`, {
    method: 'PUT',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench-0', slots: {}, config: { n: 0 } }),
  });
  if (r0.status !== 201) throw new Error(await r0.text());
  const g = await fetch(`${store.url}/v1/environments/bench-0`, { headers: auth });
  if (g.status !== 200) throw new Error(`store read answered ${g.status}: ${await g.text()}`);
  await run({ url: `${bare.url}/x`, duration: 1 });
  await run({ url: `${store.url}/v1/environments/bench-0`, headers: auth, duration: 1 });
  const ratios = [];
  for (let i = 0; i < ROUNDS; i++) {
    const out = {};
    for (const [name, t, opts] of [
      ['bare', bare, { url: `${bare.url}/x` }],
      ['store', store, { url: `${store.url}/v1/environments/bench-0`, headers: auth }],
    ]) {
      const c0 = cpu(t.pid);
      const r = await run(opts);
      const c1 = cpu(t.pid);
      out[name] = { rps: r.requests.average, us: (c1 - c0) / r.requests.total, bad: r.non2xx + r.errors };
    }
    const ratio = out.store.rps / out.bare.rps;
    ratios.push(ratio);
    console.log(
      `bare ${out.bare.rps.toFixed(0)} rps ${out.bare.us.toFixed(0)} µs | store ${out.store.rps.toFixed(0)} rps ${out.store.us.toFixed(0)} µs bad ${out.store.bad} | ratio ${ratio.toFixed(2)} cpu-ratio ${(out.bare.us / out.store.us).toFixed(2)}`,
    );
  }
  ratios.sort((a, b) => a - b);
  console.log('median ratio', ratios[Math.floor(ratios.length / 2)].toFixed(2));
} finally {
  for (const c of children) c.kill('SIGTERM');
}
