// Routing decisions per second, in-process (goal: >= 2 million/s). Baseline in the same run: an empty loop
// calling Math.random, the floor any weighted choice pays.
import { chooseWeighted, compileRoutingTable, createMemoryPinStore, createRouter } from '../dist/index.js';

const compiled = compileRoutingTable({
  environment: 'bench',
  generation: 1,
  deployments: [
    {
      name: 'support',
      tenant: 'acme',
      match: { hosts: ['support.acme.test'], pathPrefixes: ['/chat'] },
      revisions: [
        { id: 'r1', state: 'ready', endpoint: 'http://127.0.0.1:9001', weight: 9000 },
        { id: 'r2', state: 'ready', endpoint: 'http://127.0.0.1:9002', weight: 1000 },
        { id: 'r0', state: 'draining', endpoint: 'http://127.0.0.1:9000', weight: 0 },
      ],
    },
    {
      name: 'support',
      tenant: 'globex',
      match: { hosts: ['support.globex.test'] },
      revisions: [{ id: 'r1', state: 'ready', endpoint: 'http://127.0.0.1:9101', weight: 10000 }],
    },
  ],
});
if (!compiled.ok) throw new Error(JSON.stringify(compiled.errors));
const table = compiled.table;
const pins = createMemoryPinStore();
const router = createRouter(table, { pinStore: pins });
const sessions = Array.from({ length: 1024 }, (_, i) => ({
  host: 'support.acme.test:8080',
  path: '/chat/messages',
  sessionId: `session-${i}`,
}));
for (const s of sessions) router.route(s); // pin them all
// The same sessions arriving with two spellings of the host in turn: every request normalizes its Host header
// (no hit in the router's one-entry host memo), the worst case for scope resolution.
const alternating = sessions.map((s, i) => ({
  ...s,
  host: i % 2 === 0 ? 'support.acme.test' : 'Support.Acme.Test:443',
}));
const anonymous = { host: 'support.acme.test', path: '/chat/messages' };
const deployment = table.deployments[0];

// Rates per second of wall time and per second of CPU time: on a shared machine the process may not get a whole
// core, and the CPU-time rate is the one that says what the code costs.
function measure(label, n, fn) {
  for (let i = 0; i < 200_000; i++) fn(i); // warm up the JIT
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  let sink = 0;
  for (let i = 0; i < n; i++) if (fn(i).kind === 'routed') sink++;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(c0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const rate = n / cpuSeconds;
  console.log(
    `${label.padEnd(52)} ${(rate / 1e6).toFixed(2).padStart(7)} M/CPU-s   ${(n / seconds / 1e6).toFixed(2).padStart(7)} M/wall-s${sink === n ? '' : ' (!)'}`,
  );
  return rate;
}

const N = 5_000_000;
const baseline = measure('baseline: Math.random() only', N, () => (Math.random() < 2 ? { kind: 'routed' } : {}));
const weighted = measure('chooseWeighted (cumulative weights)', N, () => chooseWeighted(deployment, Math.random));
const scoped = measure('router.route: host + prefix scope, weighted', N, () => router.route(anonymous));
const pinned = measure('router.route: scope + session pin (memory LRU)', N, (i) => router.route(sessions[i & 1023]));
measure('router.route: as above, Host spelled 2 ways in turn', N, (i) => router.route(alternating[i & 1023]));
console.log(
  `ratios vs baseline: weighted ${(weighted / baseline).toFixed(2)}, scoped ${(scoped / baseline).toFixed(2)}, pinned ${(pinned / baseline).toFixed(2)}`,
);
const goal = 2_000_000;
console.log(
  `goal >= 2.00 M decisions/s (full decision with pin, per CPU-second): ${pinned >= goal ? 'met' : 'NOT met'} (${(pinned / 1e6).toFixed(2)} M/s)`,
);
