import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ProcessRecord } from './files';

// OS process handling. A pid alone is not an identity: after our worker dies the kernel may hand its pid to an
// unrelated process. We record the start time from /proc/<pid>/stat at spawn and only ever treat (or signal) a
// process as ours when both match. Where /proc is missing (macOS), the start time is 'unknown' and only liveness
// is checked.

interface ProcStat {
  readonly state: string;
  readonly startTime: string;
}

export function readProcStat(pid: number): ProcStat | undefined {
  const path = `/proc/${pid}/stat`;
  if (!existsSync('/proc/self/stat')) {
    try {
      process.kill(pid, 0);
      return { state: 'R', startTime: 'unknown' };
    } catch {
      return undefined;
    }
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid …": comm may contain spaces and parentheses, so split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const startTime = fields[19]; // field 22 of proc(5), counted from field 3
  if (state === undefined || startTime === undefined) return undefined;
  return { state, startTime };
}

/** True when the recorded process still runs and is the very process we started (not a pid reuse, not a zombie). */
export function isOurs(rec: Pick<ProcessRecord, 'pid' | 'startTime'>): boolean {
  const stat = readProcStat(rec.pid);
  if (!stat || stat.state === 'Z' || stat.state === 'X') return false;
  return rec.startTime === 'unknown' || stat.startTime === rec.startTime;
}

/** Why a recorded process is not ours any more, for status details. */
export function whyNotOurs(rec: Pick<ProcessRecord, 'pid' | 'startTime'>): string {
  const stat = readProcStat(rec.pid);
  if (!stat || stat.state === 'Z' || stat.state === 'X') return `process ${rec.pid} is gone (exited or killed)`;
  return `pid ${rec.pid} now belongs to another process (started at tick ${stat.startTime}, ours at ${rec.startTime})`;
}

/** A free TCP port on 127.0.0.1, found by binding port 0 and closing again. */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface Spawned {
  readonly pid: number;
  readonly startTime: string;
}

/**
 * Start `argv` detached (its own session, so it outlives this command), stdout and stderr appended to `logFile`.
 * Rejects when the executable cannot be started at all.
 */
export async function spawnDetached(
  argv: readonly string[],
  opts: { cwd: string; env: Record<string, string>; logFile: string },
): Promise<Spawned> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error('empty command');
  const fd = openSync(opts.logFile, 'a', 0o600);
  try {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: ['ignore', fd, fd] });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('spawn', () => resolve(child.pid as number));
    });
    // Reap it if it exits while we are still running; never keep this command alive for it.
    child.on('error', () => {});
    child.unref();
    const stat = readProcStat(pid);
    return { pid, startTime: stat?.startTime ?? 'unknown' };
  } finally {
    closeSync(fd);
  }
}

/** Wait until `rec` is no longer ours, polling; true when it went within `ms`. */
export async function waitGone(rec: Pick<ProcessRecord, 'pid' | 'startTime'>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (!isOurs(rec)) return true;
    if (Date.now() >= deadline) return false;
    await sleep(20);
  }
}

/**
 * Stop a process we started: SIGTERM (the worker finishes in-flight requests), up to `graceMs`, then SIGKILL.
 * Never signals a pid that is not ours. Returns how it ended.
 */
export async function stopProcess(
  rec: Pick<ProcessRecord, 'pid' | 'startTime'>,
  graceMs: number,
): Promise<'gone' | 'terminated' | 'killed'> {
  if (!isOurs(rec)) return 'gone';
  signal(rec.pid, 'SIGTERM');
  if (await waitGone(rec, graceMs)) return 'terminated';
  if (isOurs(rec)) signal(rec.pid, 'SIGKILL');
  if (await waitGone(rec, 5_000)) return 'killed';
  throw new Error(`process ${rec.pid} survived SIGKILL for 5000 ms`);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone between the check and the signal
  }
}
