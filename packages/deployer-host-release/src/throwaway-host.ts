import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { closeHostConnection, type HostTarget } from './ssh-transport';

// A throwaway host for tests and the conformance fixtures: a real OpenSSH server with host and user keys generated
// here, its own sshd_config (no PAM, keys from the temp dir), bound to 127.0.0.1 on a free high port, run in the
// foreground as a child and stopped by `stop()`. The "host" is this machine; the service manager is a small
// supervisor script standing in for systemd. Needs Debian's openssh-server (`apt-get install -y openssh-server`).

const SSHD = '/usr/sbin/sshd';

/** A running throwaway sshd and what a target needs to reach it. */
export interface TestHost {
  readonly dir: string;
  readonly port: number;
  readonly identityFile: string;
  readonly knownHostsFile: string;
  readonly supervisor: string;
  readonly stateDir: string;
  /** A target on a fresh root with the supervised "main" service on `servicePort`. */
  target(root: string, servicePort: number, extra?: Partial<HostTarget>): HostTarget;
  /** The same target through a fault-injecting ssh wrapper (see {@link HostFault}). */
  faultyTarget(base: HostTarget, mode: HostFault): HostTarget;
  stop(): Promise<void>;
}

/**
 * A port that was free on 127.0.0.1 a moment ago.
 *
 * @example
 * const port = await freePort();
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`sshd exited with ${child.exitCode}: ${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = new Socket();
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
      s.connect(port, '127.0.0.1');
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`sshd did not listen on 127.0.0.1:${port}: ${log()}`);
}

/**
 * Start a throwaway sshd on 127.0.0.1 (see the file comment); call `stop()` when done.
 *
 * @example
 * const host = await startTestHost();
 * const target = host.target('/tmp/x/root', await freePort());
 * await host.stop();
 */
export async function startTestHost(): Promise<TestHost> {
  if (!existsSync(SSHD)) throw new Error(`${SSHD} is missing: install it with \`apt-get install -y openssh-server\``);
  const dir = mkdtempSync(join(tmpdir(), 'ghr-sshd-'));
  const key = (name: string) =>
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', join(dir, name)]);
  key('host_key');
  key('user_key');
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'user_key.pub')));
  const port = await freePort();
  const hostPub = readFileSync(join(dir, 'host_key.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
  writeFileSync(join(dir, 'known_hosts'), `[127.0.0.1]:${port} ${hostPub}\n`);
  writeFileSync(
    join(dir, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(dir, 'host_key')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'UsePAM no',
      'StrictModes no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin prohibit-password',
      'MaxStartups 100:30:200',
      'MaxSessions 50',
      'LogLevel ERROR',
      // bash reads ~/.bashrc for commands run by sshd unless SHLVL says it is nested; this machine's root
      // .bashrc (pyenv init) costs more than the ssh step itself, and a host's shell rc is not under test.
      'SetEnv SHLVL=1',
      '',
    ].join('\n'),
  );
  try {
    mkdirSync('/run/sshd', { recursive: true }); // privilege separation directory Debian's sshd insists on (as root)
  } catch {
    // not root: sshd runs unprivileged and does not need it
  }
  const stateDir = join(dir, 'services');
  mkdirSync(stateDir);
  const supervisor = join(dir, 'supervise.sh');
  writeFileSync(supervisor, supervisorScript(process.execPath, stateDir));
  chmodSync(supervisor, 0o755);
  const wrapper = join(dir, 'ssh-fault.sh');
  writeFileSync(wrapper, FAULT_WRAPPER);
  chmodSync(wrapper, 0o755);

  const errs: Buffer[] = [];
  const child = spawn(SSHD, ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.on('data', (b: Buffer) => errs.push(b));
  await waitForPort(port, child, () => Buffer.concat(errs).toString());

  const targets: HostTarget[] = [];
  const identityFile = join(dir, 'user_key');
  const knownHostsFile = join(dir, 'known_hosts');
  return {
    dir,
    port,
    identityFile,
    knownHostsFile,
    supervisor,
    stateDir,
    target(root, servicePort, extra = {}) {
      const svc = (cmd: string) => `${supervisor} ${cmd} main-${servicePort} ${root}/current ${servicePort}`;
      const t: HostTarget = {
        host: '127.0.0.1',
        port,
        user: userInfo().username,
        identityFile,
        knownHostsFile,
        connectTimeoutSeconds: 5,
        root,
        service: { name: `worker-${servicePort}`, restart: svc('restart'), status: svc('status') },
        verifyTimeoutMs: 2000,
        controlPath: join(dir, 'cm-%C'),
        ...extra,
      };
      targets.push(t);
      return t;
    },
    faultyTarget(base, mode) {
      // No shared connection: a dropped transfer must drop a real TCP connection.
      const { controlPath: _shared, ...rest } = base;
      return { ...rest, sshCommand: [wrapper, mode] };
    },
    async stop() {
      // Close the shared connections, stop every worker the supervisor started, then sshd.
      await Promise.all(targets.map((t) => closeHostConnection(t)));
      try {
        execFileSync(supervisor, ['stop-all', '-', '-', '-']);
      } catch {
        // already gone
      }
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// The stand-in for systemd: start/stop/restart/status of a tiny node http worker that runs `<code>/server.mjs`.
// status = the process is alive AND GET /healthz answers 2xx.
function supervisorScript(node: string, state: string): string {
  return `#!/bin/bash
# supervise.sh start|stop|restart|alive|status|stop-all <name> <code-dir> <port>
cmd=$1; name=$2; code=$3; port=$4
state=${state}
pidf="$state/$name.pid"
# A process that exited but is not reaped yet (a zombie) counts as gone.
running() { [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
alive() { [ -f "$pidf" ] && running "$(cat "$pidf")"; }
start() {
  alive && return 0
  PORT=$port setsid ${node} "$code/server.mjs" >>"$state/$name.log" 2>&1 </dev/null &
  echo $! > "$pidf"
}
stop() {
  [ -f "$pidf" ] || return 0
  pid=$(cat "$pidf")
  if running "$pid"; then
    kill "$pid"; i=0
    while running "$pid" && [ $i -lt 50 ]; do sleep 0.05; i=$((i+1)); done
    kill -9 "$pid" 2>/dev/null
  fi
  rm -f "$pidf"
}
# GET /healthz through bash's /dev/tcp: no extra process per check (they run many times a second in verify).
health() {
  exec 3<>"/dev/tcp/127.0.0.1/$port" 2>/dev/null || return 1
  printf 'GET /healthz HTTP/1.0\\r\\nHost: 127.0.0.1\\r\\n\\r\\n' >&3
  read -r -t 2 _ code _ <&3
  exec 3<&-
  [ "$code" = 200 ]
}
case $cmd in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  alive) alive ;;
  status) alive && health ;;
  stop-all) for f in "$state"/*.pid; do [ -f "$f" ] || continue; pidf=$f; stop; done ;;
  *) echo "usage: supervise.sh start|stop|restart|status <name> <code-dir> <port>" >&2; exit 2 ;;
esac
`;
}

/**
 * The faults `faultyTarget` injects, all through a wrapper around the local ssh client:
 * - `drop`: on the transfer step, forward 4 KiB of the archive, then kill the connection;
 * - `truncate`: on the transfer step, forward 4 KiB, then close the stream early;
 * - `disk-full`: every remote step runs with RLIMIT_FSIZE at 64 KiB (SIGXFSZ ignored), so any write past 64 KiB
 *   fails mid-file as on a full disk (with EFBIG, "File too large", where a full disk says ENOSPC: the same
 *   failed-write path, reproducible without mounting a small filesystem);
 * - `disk-full-unpack`: the same, on the unpack step only (the archive arrives whole, unpacking it fails);
 * - `permissions`: file permissions bind for every remote step, even for root (CAP_DAC_OVERRIDE and
 *   CAP_DAC_READ_SEARCH are dropped with setpriv), so a directory made read-only answers "Permission denied".
 */
export type HostFault = 'drop' | 'truncate' | 'disk-full' | 'disk-full-unpack' | 'permissions';

// ssh-fault.sh <fault> <ssh args…>: the remote command is ssh's last argument. The transfer step's script starts
// with "# greentic-transfer", the unpack step's holds "tar -x"; every call the fault does not concern passes through.
const FAULT_WRAPPER = `#!/bin/bash
mode=$1; shift
cmd=\${!#}
set -- "\${@:1:$#-1}"
case $mode in
  disk-full) exec ssh "$@" "trap '' XFSZ; ulimit -f 64; $cmd" ;;
  disk-full-unpack)
    case $cmd in *"tar -x"*) exec ssh "$@" "trap '' XFSZ; ulimit -f 64; $cmd" ;; esac
    exec ssh "$@" "$cmd" ;;
  permissions)
    if [ "$(id -u)" = 0 ]; then exec ssh "$@" "exec setpriv --bounding-set=-dac_override,-dac_read_search -- $cmd"; fi
    exec ssh "$@" "$cmd" ;;
esac
case $cmd in
  *greentic-transfer*) ;;
  *) exec ssh "$@" "$cmd" ;;
esac
if [ "$mode" = truncate ]; then head -c 4096 | ssh "$@" "$cmd"; exit $?; fi
fifo=$(mktemp -u); mkfifo "$fifo"
ssh "$@" "$cmd" < "$fifo" & pid=$!
exec 3>"$fifo"
head -c 4096 >&3
sleep 0.5
kill -9 $pid
exec 3>&-
rm -f "$fifo"
wait $pid 2>/dev/null
exit 255
`;

/** A throwaway git repository holding a small HTTP worker. */
export interface Repo {
  readonly dir: string;
  /** Commit a worker that answers /healthz with 200 (healthy) or 500, returns the sha. */
  commit(message: string, opts?: { healthy?: boolean; extra?: Record<string, string> }): string;
}

/**
 * A throwaway git repository holding the worker's source (a node HTTP worker with /healthz and /slow).
 *
 * @example
 * const repo = makeRepo(dir); const sha = repo.commit('v1');
 */
export function makeRepo(parent: string): Repo {
  const dir = join(parent, 'worktree');
  mkdirSync(dir);
  const git = (...args: string[]) =>
    execFileSync('git', ['-C', dir, '-c', 'user.email=t@example.com', '-c', 'user.name=test', ...args], {
      encoding: 'utf8',
    }).trim();
  git('init', '-q', '-b', 'main');
  return {
    dir,
    commit(message, opts = {}) {
      writeFileSync(join(dir, 'server.mjs'), workerSource(opts.healthy ?? true, message));
      for (const [f, c] of Object.entries(opts.extra ?? {})) writeFileSync(join(dir, f), c);
      git('add', '-A');
      git('commit', '-q', '-m', message);
      return git('rev-parse', 'HEAD');
    },
  };
}

function workerSource(healthy: boolean, message: string): string {
  return `import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
let rel = {};
try { rel = JSON.parse(readFileSync(new URL('./.release.json', import.meta.url), 'utf8')); } catch {}
const body = JSON.stringify({ sha: rel.sha ?? null, label: rel.label ?? null, message: ${JSON.stringify(message)} });
const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://worker');
  if (url.pathname === '/healthz') { res.writeHead(${healthy ? 200 : 500}); res.end(${healthy ? "'ok'" : "'broken build'"}); return; }
  const answer = () => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(body); };
  if (url.pathname === '/slow') { setTimeout(answer, Math.min(Number(url.searchParams.get('ms')) || 0, 60000)); return; }
  answer();
}).listen(Number(process.env.PORT), '127.0.0.1');
// SIGTERM: stop accepting, let in-flight requests finish, then exit (what a drain relies on).
process.on('SIGTERM', () => { server.close(() => process.exit(0)); server.closeIdleConnections(); });
`;
}
