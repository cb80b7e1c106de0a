import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { HostSnapshot, ReleaseInfo } from './host-probe';
import { decidePrune } from './prune';

const release = (i: number, failed: boolean): ReleaseInfo => ({
  name: `r${i}`,
  path: `/opt/agent/releases/r${i}`,
  failed,
  failedReason: failed ? 'verify failed' : undefined,
  stamp: { timestamp: new Date(1_700_000_000_000 + i * 1000).toISOString() },
  source: { sha: undefined, tier: 'unknown', disagreements: [] },
  mtime: 0,
});

const snapshot = (
  releases: ReleaseInfo[],
  current: number | undefined,
  rollback: number | undefined,
): HostSnapshot => ({
  host: 'root@h:22',
  rootState: 'dir',
  current:
    current === undefined
      ? { kind: 'absent' }
      : { kind: 'symlink', link: `releases/r${current}`, target: `/opt/agent/releases/r${current}`, exists: true },
  currentSource: undefined,
  rollbackTarget: rollback === undefined ? undefined : `/opt/agent/releases/r${rollback}`,
  truthMarker: undefined,
  // newest first, as probeHost sorts them
  releases: [...releases].reverse(),
  leftovers: [],
  inUse: [],
  serviceExit: 0,
  healthExit: undefined,
});

describe('decidePrune', () => {
  it('never removes current or the rollback target, never keeps a failed one otherwise, keeps the newest N good', () => {
    fc.assert(
      fc.property(
        fc.array(fc.boolean(), { minLength: 0, maxLength: 12 }),
        fc.integer({ min: 1, max: 6 }),
        fc.option(fc.nat(11), { nil: undefined }),
        fc.option(fc.nat(11), { nil: undefined }),
        (failedFlags, keep, cur, rb) => {
          const rels = failedFlags.map((f, i) => release(i, f));
          const c = cur !== undefined && cur < rels.length ? cur : undefined;
          const r = rb !== undefined && rb < rels.length ? rb : undefined;
          const d = decidePrune(snapshot(rels, c, r), keep, 60);
          const removed = new Set(d.remove.map((x) => x.path));
          const kept = new Set(d.keep.map((x) => x.path));
          expect(removed.size + kept.size).toBe(rels.length);
          if (c !== undefined) expect(kept.has(`/opt/agent/releases/r${c}`)).toBe(true);
          if (r !== undefined) expect(kept.has(`/opt/agent/releases/r${r}`)).toBe(true);
          for (const x of rels) {
            const protectedOne = x.path === `/opt/agent/releases/r${c}` || x.path === `/opt/agent/releases/r${r}`;
            if (x.failed && !protectedOne) expect(removed.has(x.path)).toBe(true);
          }
          // the good releases kept beyond the protected ones are the newest, and never more than `keep` good in all
          const good = rels.filter((x) => !x.failed).reverse();
          const goodKept = good.filter((x) => kept.has(x.path));
          const unprotectedKept = goodKept.filter(
            (x) => x.path !== `/opt/agent/releases/r${c}` && x.path !== `/opt/agent/releases/r${r}`,
          );
          expect(unprotectedKept.length).toBeLessThanOrEqual(keep);
          expect(good.slice(0, keep).every((x) => kept.has(x.path))).toBe(true);
        },
      ),
    );
  });
});
