import { closeSync, mkdirSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { EnvPackError } from '@greentic/env-pack';
import { PACK_ID } from './credentials';
import { readJson } from './files';
import { isOurs, readProcStat } from './processes';

interface LockOwner {
  readonly pid: number;
  readonly startTime: string;
}

/**
 * Run `fn` holding an exclusive lock file in `dir`, so two commands acting on the same revision (or on the routes
 * file) take turns instead of starting two workers. A lock whose owner process is gone is taken over; waiting is
 * bounded and ends in a `conflict` error naming the holder.
 */
export async function withLock<T>(dir: string, what: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const path = join(dir, '.lock');
  const me: LockOwner = { pid: process.pid, startTime: readProcStat(process.pid)?.startTime ?? 'unknown' };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    mkdirSync(dir, { recursive: true });
    try {
      const fd = openSync(path, 'wx', 0o600);
      try {
        writeSync(fd, JSON.stringify(me));
      } finally {
        closeSync(fd);
      }
      break;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') continue; // the folder was removed under us (an archive): recreate and retry
      if (code !== 'EEXIST') throw e;
    }
    const owner = readJson<LockOwner>(path);
    let age = 0;
    try {
      age = Date.now() - statSync(path).mtimeMs;
    } catch {
      continue; // released between our attempt and this look
    }
    // An unreadable lock younger than a second is being written right now; an older one, or a dead owner's, is stale.
    if ((owner && !isOurs(owner)) || (!owner && age > 1_000)) {
      rmSync(path, { force: true });
      continue;
    }
    if (Date.now() >= deadline) {
      throw new EnvPackError(
        'conflict',
        `${what} is busy: process ${owner?.pid ?? '?'} has been acting on it for ${Math.round(age)} ms; try again when it finishes`,
        { pack: PACK_ID },
      );
    }
    await sleep(25);
  }
  try {
    return await fn();
  } finally {
    rmSync(path, { force: true });
  }
}
