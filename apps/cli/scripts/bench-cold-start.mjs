// Cold start of `gtc --help` (goal: median ≤ 150 ms), against `node -e 0` measured in the same run.
// Uses hyperfine when it is installed, else a spawn loop in Node. Needs a build (dist/gtc.js).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const gtc = join(here, '..', 'dist', 'gtc.js');
if (!existsSync(gtc)) {
  console.error(`[bench] ${gtc} is missing: run pnpm turbo run build --filter=@greentic/cli first`);
  process.exit(1);
}
const RUNS = Number(process.env.BENCH_RUNS ?? 21);
const GOAL_MS = 150;
const env = { ...process.env, NO_COLOR: '1' };

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function loop(args) {
  spawnSync(process.execPath, args, { env, stdio: 'ignore' }); // warm the file cache
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    const t = process.hrtime.bigint();
    const r = spawnSync(process.execPath, args, { env, stdio: 'ignore' });
    if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}`);
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return median(times);
}

function hyperfine() {
  const probe = spawnSync('hyperfine', ['--version'], { stdio: 'ignore' });
  if (probe.status !== 0) return undefined;
  const out = join(process.env.TMPDIR ?? '/tmp', `gtc-bench-${process.pid}.json`);
  const r = spawnSync(
    'hyperfine',
    [
      '-N',
      '--warmup',
      '2',
      '--runs',
      String(RUNS),
      '--export-json',
      out,
      `${process.execPath} -e 0`,
      `${process.execPath} ${gtc} --help`,
    ],
    { env, stdio: 'ignore' },
  );
  if (r.status !== 0) return undefined;
  const { results } = JSON.parse(readFileSync(out, 'utf8'));
  return { baseline: results[0].median * 1000, gtc: results[1].median * 1000, tool: 'hyperfine' };
}

const measured = hyperfine() ?? { baseline: loop(['-e', '0']), gtc: loop([gtc, '--help']), tool: 'spawn loop' };
console.log(`gtc --help cold start (${RUNS} runs, ${measured.tool}, median):`);
console.log(`  node -e 0      ${measured.baseline.toFixed(1)} ms (baseline)`);
console.log(
  `  gtc --help     ${measured.gtc.toFixed(1)} ms  (${(measured.gtc / measured.baseline).toFixed(2)}× baseline, +${(measured.gtc - measured.baseline).toFixed(1)} ms)`,
);
console.log(`  goal           ≤ ${GOAL_MS} ms: ${measured.gtc <= GOAL_MS ? 'met' : 'NOT met'}`);
