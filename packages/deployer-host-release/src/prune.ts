import { posix } from 'node:path';
import { withHostLock } from './host-lock';
import { type HostSnapshot, probeHost, type ReleaseInfo } from './host-probe';
import { checkRoot } from './release-names';
import { removePaths } from './release-steps';
import { describeHost, type HostTarget, PACK_ID } from './ssh-transport';

export interface PruneOptions {
  /** Good releases to keep (default: the host's `keepReleases`, else 5). At least 1. */
  readonly keep?: number;
  /** Do it. Without it, the result lists what would be removed and nothing changes. */
  readonly apply?: boolean;
  /** Staging leftovers (`.incoming-*`, `current.tmp-*`) older than this are removed (default 60 minutes). */
  readonly leftoverMinutes?: number;
  /** Internal: the caller (promote) already holds the host lock. */
  readonly lockHeld?: boolean;
}

export interface PruneDecision {
  readonly path: string;
  readonly why: string;
}

export interface PruneResult {
  readonly outcome: 'dry-run' | 'pruned';
  readonly host: string;
  readonly keep: readonly PruneDecision[];
  readonly remove: readonly PruneDecision[];
  readonly lines: readonly string[];
}

/**
 * Pure: which releases hygiene keeps and removes. Current and the rollback target are never removed; failed
 * releases never count among the `keep` good ones (and are removed unless protected); of the good releases the
 * newest `keep` (by `.release.json` timestamp, else directory time) stay.
 *
 * @example
 * const { remove } = decidePrune(snapshot, 3, 60);
 */
export function decidePrune(
  snap: HostSnapshot,
  keep: number,
  leftoverMinutes: number,
): { keep: PruneDecision[]; remove: PruneDecision[] } {
  const current = snap.current.kind === 'symlink' ? snap.current.target : undefined;
  const rollback = snap.rollbackTarget;
  const kept: PruneDecision[] = [];
  const removed: PruneDecision[] = [];
  let good = 0;
  for (const r of snap.releases as ReleaseInfo[]) {
    if (r.path === current) kept.push({ path: r.path, why: 'current' });
    else if (r.path === rollback) kept.push({ path: r.path, why: 'rollback target' });
    else if (snap.inUse.includes(r.path)) kept.push({ path: r.path, why: 'used by a revision instance' });
    else if (r.failed) removed.push({ path: r.path, why: `failed (${r.failedReason ?? 'marked failed'})` });
    else if (good < keep) kept.push({ path: r.path, why: `one of the last ${keep} good releases` });
    else removed.push({ path: r.path, why: `older than the last ${keep} good releases` });
    // Protected releases that are good still count towards the N good ones (they are good releases).
    if (!r.failed) good++;
  }
  for (const l of snap.leftovers) {
    if (l.ageMinutes >= leftoverMinutes)
      removed.push({ path: l.path, why: `staging leftover, ${l.ageMinutes} min old` });
  }
  return { keep: kept, remove: removed };
}

/**
 * Release hygiene on a host: keep the last N good releases, never the current or rollback target, failed
 * promotions never counted as good. Dry run unless `apply: true`.
 *
 * @example
 * const r = await pruneReleases(host, { keep: 3 }); r.lines.forEach((l) => console.log(l));
 */
export async function pruneReleases(t: HostTarget, opts: PruneOptions = {}): Promise<PruneResult> {
  checkRoot(t.root);
  const keep = Math.max(1, Math.floor(opts.keep ?? t.keepReleases ?? 5));
  const run = async (): Promise<PruneResult> => {
    // Applied, this runs under the host lock: the snapshot it decides on is the state it deletes from, so a
    // rollback or promote that re-points current in between can never make it delete the new current.
    const snap = await probeHost(t);
    const d = decidePrune(snap, keep, opts.leftoverMinutes ?? 60);
    const lines = [
      `[${PACK_ID}] prune ${opts.apply ? '(applying)' : '(dry run: nothing will change)'} on ${describeHost(t)}:${posix.join(t.root, 'releases')}`,
      ...d.keep.map((k) => `  keep    ${k.path} (${k.why})`),
      ...d.remove.map((k) => `  remove  ${k.path} (${k.why})`),
    ];
    if (opts.apply === true) {
      await removePaths(
        t,
        d.remove.map((r) => r.path),
      );
    }
    return {
      outcome: opts.apply === true ? 'pruned' : 'dry-run',
      host: describeHost(t),
      keep: d.keep,
      remove: d.remove,
      lines,
    };
  };
  // Inside a promotion the lock is already held by the caller; a dry run never locks.
  return opts.apply === true && opts.lockHeld !== true ? withHostLock(t, 'prune', run) : run();
}
