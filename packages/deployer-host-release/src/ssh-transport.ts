import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { EnvPackError } from '@greentic/env-pack';

/** The pack id every message and error of this package carries. */
export const PACK_ID = 'greentic.deployer.host-release';

/** The service on the host that runs `<root>/current` (seed 002: restart, then verify "active"). */
export interface HostService {
  /** A name for messages (`agent`, `greentic-worker`). */
  readonly name: string;
  /** Shell command run on the host to restart the service, e.g. `systemctl restart agent`. */
  readonly restart: string;
  /** Shell command run on the host that exits 0 while the service is active, e.g. `systemctl is-active --quiet agent`. */
  readonly status: string;
  /** Optional read-only health probe run on the host (exit 0 = healthy), e.g. `curl -fsS http://127.0.0.1:8080/healthz`. */
  readonly health?: string;
}

/** One host reached through the system OpenSSH client. Nothing here is secret: the key stays in its file. */
export interface HostTarget {
  /** Host name or address. */
  readonly host: string;
  /** ssh port (default 22). */
  readonly port?: number;
  /** Remote user. */
  readonly user: string;
  /** Private key file handed to `ssh -i`. */
  readonly identityFile: string;
  /** known_hosts file; the host key must be in it (StrictHostKeyChecking=yes, never trust on first use). */
  readonly knownHostsFile: string;
  /** ssh ConnectTimeout in seconds (default 10). */
  readonly connectTimeoutSeconds?: number;
  /** The ssh argv prefix (default `['ssh']`); a wrapper script goes here (bastions, tests injecting faults). */
  readonly sshCommand?: readonly string[];
  /**
   * Reuse one ssh connection for every step (OpenSSH ControlMaster): the socket path, short, e.g. `/tmp/ghr-%C`
   * (`%C` is a hash of the connection). The master exits `controlPersistSeconds` after the last use, or at
   * {@link closeHostConnection}.
   */
  readonly controlPath?: string;
  /** How long an idle shared connection stays open (default 30 s). */
  readonly controlPersistSeconds?: number;
  /** Absolute release root on the host, e.g. `/opt/agent` (holds `releases/`, `current`, `.rollback-target`). */
  readonly root: string;
  readonly service: HostService;
  /** Good releases kept by hygiene (default 5); current and the rollback target are always kept. */
  readonly keepReleases?: number;
  /** How long verify waits for the service to report active after a restart (default 15000 ms). */
  readonly verifyTimeoutMs?: number;
}

export interface RemoteResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RemoteOptions {
  /** Streamed to the remote command's stdin (closed immediately when absent). */
  readonly stdin?: Readable;
  /** Kill the ssh client after this long (default 120000 ms). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/**
 * Quote one word for a POSIX shell: single quotes, with embedded `'` written as `'\''`.
 *
 * @example
 * shellQuote("it's here") // => `'it'\''s here'`
 */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** `user@host:port` for messages. */
export function describeHost(t: HostTarget): string {
  return `${t.user}@${t.host}:${t.port ?? 22}`;
}

/** The ssh argv (without the remote command) for a target: BatchMode, strict host keys, a connect timeout. */
export function sshArgv(t: HostTarget): string[] {
  const [bin = 'ssh', ...pre] = t.sshCommand ?? ['ssh'];
  return [
    bin,
    ...pre,
    '-p',
    String(t.port ?? 22),
    '-i',
    t.identityFile,
    '-o',
    'BatchMode=yes',
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    `UserKnownHostsFile=${t.knownHostsFile}`,
    '-o',
    'GlobalKnownHostsFile=/dev/null',
    '-o',
    `ConnectTimeout=${t.connectTimeoutSeconds ?? 10}`,
    '-o',
    'LogLevel=ERROR',
    ...(t.controlPath
      ? [
          '-o',
          'ControlMaster=auto',
          '-o',
          `ControlPath=${t.controlPath}`,
          '-o',
          `ControlPersist=${t.controlPersistSeconds ?? 30}`,
        ]
      : []),
    '-T',
    '-l',
    t.user,
    t.host,
  ];
}

/**
 * Run a POSIX `sh` script on the host with positional arguments, through the system OpenSSH client.
 * Every argument is shell-quoted, so paths and labels never become code. Exit 255 (ssh itself failed:
 * unreachable, host key unknown, key refused) becomes an `unavailable` EnvPackError; any other exit code is
 * returned for the caller to interpret.
 *
 * @example
 * const r = await runRemote(target, 'readlink "$1/current"', [target.root]);
 */
export function runRemote(
  t: HostTarget,
  script: string,
  args: readonly string[],
  opts: RemoteOptions = {},
): Promise<RemoteResult> {
  const argv = sshArgv(t);
  const remote = ['sh', '-c', shellQuote(script), 'greentic-host-release', ...args.map(shellQuote)].join(' ');
  const [bin, ...rest] = argv;
  return new Promise((resolve, reject) => {
    const child = spawn(bin as string, [...rest, remote], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let settled = false;
    let why: string | undefined;
    const timer = setTimeout(() => {
      why = `timed out after ${opts.timeoutMs ?? 120_000} ms`;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 120_000);
    const onAbort = () => {
      why = 'aborted';
      child.kill('SIGKILL');
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    // A remote side that stops reading (or a dropped connection) must not crash the process with EPIPE.
    child.stdin.on('error', () => {});
    if (opts.stdin) {
      opts.stdin.on('error', () => child.stdin.destroy());
      opts.stdin.pipe(child.stdin);
    } else child.stdin.end();
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      fn();
    };
    child.on('error', (e) =>
      finish(() =>
        reject(
          new EnvPackError(
            'preflight-failed',
            `cannot run the ssh client "${bin}" for ${describeHost(t)}: ${e.message}; install it with \`apt-get install openssh-client\``,
            { pack: PACK_ID, cause: e },
          ),
        ),
      ),
    );
    child.on('close', (code, sig) => {
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      finish(() => {
        if (why !== undefined || sig) {
          reject(
            new EnvPackError(
              why === 'aborted' ? 'failed' : 'timeout',
              `ssh to ${describeHost(t)} ${why ?? `was killed by ${sig}`}${lastLine(stderr)}`,
              { pack: PACK_ID },
            ),
          );
          return;
        }
        if (code === 255) {
          reject(
            new EnvPackError(
              'unavailable',
              `cannot reach ${describeHost(t)} over ssh${lastLine(stderr) || ' (ssh exited 255)'}; check the host, port, key and that its host key is in ${t.knownHostsFile}`,
              { pack: PACK_ID },
            ),
          );
          return;
        }
        resolve({ code: code ?? 1, stdout, stderr });
      });
    });
  });
}

function lastLine(s: string): string {
  const lines = s
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  const l = lines[lines.length - 1];
  return l === undefined ? '' : `: ${l}`;
}

/** The trimmed stderr of a failed remote step, for error messages. */
export function remoteReason(r: RemoteResult): string {
  const s = r.stderr.trim();
  return s.length > 0 ? s.split('\n').slice(-3).join(' / ') : `exit code ${r.code}`;
}

/**
 * Close the shared connection of a target that uses `controlPath` (no-op otherwise, or when none is open).
 *
 * @example
 * await closeHostConnection(target);
 */
export function closeHostConnection(t: HostTarget): Promise<void> {
  if (!t.controlPath) return Promise.resolve();
  const argv = sshArgv(t);
  const [bin, ...rest] = argv;
  const at = rest.length - 1; // the host name is last: `-O exit` goes before it
  const args = [...rest.slice(0, at), '-O', 'exit', ...rest.slice(at)];
  return new Promise((resolve) => {
    const child = spawn(bin as string, args, { stdio: 'ignore' });
    child.on('error', () => resolve());
    child.on('close', () => resolve());
  });
}
