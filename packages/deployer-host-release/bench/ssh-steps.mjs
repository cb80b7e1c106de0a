// Bench: how long the read-only host probe (one ssh session: status, smoke and every promote step start with it)
// takes with a new ssh connection per step (the baseline) and with one shared connection (`controlPath`), against a
// real sshd on 127.0.0.1. Run after `pnpm turbo run build --filter=@greentic/deployer-host-release`.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { closeHostConnection, hostStatus } from '../dist/index.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const dir = mkdtempSync(join(tmpdir(), 'ghr-bench-'));
const key = (n) => execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, n)]);
key('host_key');
key('user_key');
writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'user_key.pub')));
const port = await new Promise((res) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => res(p));
  });
});
writeFileSync(
  join(dir, 'known_hosts'),
  `[127.0.0.1]:${port} ${readFileSync(join(dir, 'host_key.pub'), 'utf8').split(' ').slice(0, 2).join(' ')}\n`,
);
writeFileSync(
  join(dir, 'sshd_config'),
  `Port ${port}\nListenAddress 127.0.0.1\nHostKey ${join(dir, 'host_key')}\nPidFile ${join(dir, 'sshd.pid')}\nAuthorizedKeysFile ${join(dir, 'authorized_keys')}\nUsePAM no\nStrictModes no\nPasswordAuthentication no\nLogLevel ERROR\nSetEnv SHLVL=1\nMaxStartups 100\n`,
);
mkdirSync('/run/sshd', { recursive: true });
const sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: 'ignore' });
for (let i = 0; i < 100; i++) {
  const up = await new Promise((res) => {
    const s = new Socket();
    s.once('connect', () => {
      s.destroy();
      res(true);
    });
    s.once('error', () => res(false));
    s.connect(port, '127.0.0.1');
  });
  if (up) break;
  await sleep(50);
}

const base = {
  host: '127.0.0.1',
  port,
  user: process.env.USER === 'root' || process.getuid?.() === 0 ? 'root' : process.env.USER,
  identityFile: join(dir, 'user_key'),
  knownHostsFile: join(dir, 'known_hosts'),
  root: join(dir, 'root'),
  service: { name: 'none', restart: 'true', status: 'true' },
};
const shared = { ...base, controlPath: join(dir, 'cm-%C') };

async function time(target) {
  await hostStatus(target); // warm-up (and opens the shared connection)
  const t0 = performance.now();
  for (let i = 0; i < RUNS; i++) await hostStatus(target);
  return (performance.now() - t0) / RUNS;
}
try {
  const fresh = await time(base);
  const reused = await time(shared);
  console.log(`host status (one ssh session), ${RUNS} runs each`);
  console.log(`  new connection per step (baseline): ${fresh.toFixed(1)} ms`);
  console.log(`  shared connection (controlPath):     ${reused.toFixed(1)} ms`);
  console.log(`  ratio baseline / shared:             ${(fresh / reused).toFixed(1)}x`);
} finally {
  await closeHostConnection(shared);
  sshd.kill('SIGTERM');
  await new Promise((r) => sshd.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
}
