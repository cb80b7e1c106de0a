import { hostname, userInfo } from 'node:os';
import { EnvPackError } from '@greentic/env-pack';
import { describeHost, type HostTarget, PACK_ID, remoteReason, runRemote } from './ssh-transport';

// One mutating operation per host root at a time: `<root>/.lock/` is created with mkdir(2), which is atomic, and
// holds who took it. The lock spans several ssh sessions (ship, flip, restart, verify), so flock(1) on one session
// cannot hold it. A lock left by a crashed run is reported with its owner; a person removes it after checking.

const TAKE = `
root=$1; owner=$2
mkdir -p -- "$root" || exit 10
if mkdir -- "$root/.lock" 2>/dev/null; then printf '%s\\n' "$owner" > "$root/.lock/owner"; exit 0; fi
cat -- "$root/.lock/owner" 2>/dev/null || echo '{}'
exit 11
`;

/**
 * Run `fn` holding the host's operation lock (`<root>/.lock`). A lock held by another run is a `conflict` naming
 * its owner, operation and start time.
 *
 * @example
 * await withHostLock(target, 'promote v2', async () => { … });
 */
export async function withHostLock<T>(t: HostTarget, operation: string, fn: () => Promise<T>): Promise<T> {
  const owner = JSON.stringify({
    operation,
    by: `${userInfo().username}@${hostname()}`,
    pid: process.pid,
    at: new Date().toISOString(),
  });
  const r = await runRemote(t, TAKE, [t.root, owner], { timeoutMs: 30_000 });
  if (r.code === 11) {
    let held: { operation?: string; by?: string; at?: string } = {};
    try {
      held = JSON.parse(r.stdout) as typeof held;
    } catch {
      held = {};
    }
    throw new EnvPackError(
      'conflict',
      `${describeHost(t)}:${t.root} is locked by another operation (${held.operation ?? 'unknown'} by ${held.by ?? 'unknown'} since ${held.at ?? 'unknown'}); wait for it, or if it died, check the host and remove ${t.root}/.lock. Nothing was changed`,
      { pack: PACK_ID },
    );
  }
  if (r.code !== 0) {
    throw new EnvPackError(
      'failed',
      `cannot take the lock ${t.root}/.lock on ${describeHost(t)}: ${remoteReason(r)}; nothing was changed`,
      {
        pack: PACK_ID,
      },
    );
  }
  try {
    return await fn();
  } finally {
    await runRemote(t, 'rm -rf -- "$1/.lock"', [t.root], { timeoutMs: 30_000 }).catch(() => undefined);
  }
}
