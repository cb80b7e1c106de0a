import type { RevisionState, TrafficEntry } from '@greentic/deploy-spec';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decideTransition, LIFECYCLE_ACTIONS } from './lifecycle';
import { checkSplit, diffSplits, formatSplit, parseTrafficArgs, previousSplit, weightOf } from './traffic';

describe('parseTrafficArgs', () => {
  it('turns hand-typed percents into basis points', () => {
    expect(parseTrafficArgs(['r7=90', 'r8=10'])).toEqual({
      ok: true,
      entries: [
        { revision: 'r7', weight: 9000 },
        { revision: 'r8', weight: 1000 },
      ],
    });
    expect(parseTrafficArgs(['r7=99.99', 'r8=0.01'])).toMatchObject({
      ok: true,
      entries: [{ weight: 9999 }, { weight: 1 }],
    });
    expect(parseTrafficArgs(['r7=100'])).toMatchObject({ ok: true, entries: [{ revision: 'r7', weight: 10000 }] });
  });

  it('refuses sums other than 100%, more than two decimals, duplicates and garbage', () => {
    expect(parseTrafficArgs(['r7=90', 'r8=5'])).toEqual({
      ok: false,
      errors: ['shares sum to 95%; they must sum to exactly 100%'],
    });
    expect(parseTrafficArgs(['r7=90.001', 'r8=9.999'])).toMatchObject({ ok: false });
    expect(parseTrafficArgs(['r7=50', 'r7=50'])).toEqual({ ok: false, errors: ['revision r7 is given twice'] });
    expect(parseTrafficArgs(['R7=100'])).toMatchObject({ ok: false });
    expect(parseTrafficArgs([])).toMatchObject({ ok: false });
  });

  it('round-trips through formatSplit for any split in hundredths of a percent', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 10_000 }), { minLength: 1, maxLength: 6 }), (raw) => {
        const total = raw.reduce((a, b) => a + b, 0);
        const weights = raw.map((w) => Math.floor((w * 10_000) / total));
        weights[0] = (weights[0] ?? 0) + 10_000 - weights.reduce((a, b) => a + b, 0);
        const entries = weights.map((weight, i) => ({ revision: `r${i}`, weight })).filter((e) => e.weight > 0);
        const parsed = parseTrafficArgs(formatSplit(entries).split(' '));
        expect(parsed.ok).toBe(true);
        if (parsed.ok) expect(diffSplits(parsed.entries, entries)).toEqual([]);
      }),
    );
  });
});

describe('checkSplit', () => {
  const states: Record<string, RevisionState> = { r7: 'ready', r8: 'ready', r9: 'warming' };
  it('accepts ready revisions summing to 10000', () => {
    expect(
      checkSplit(
        [
          { revision: 'r7', weight: 9000 },
          { revision: 'r8', weight: 1000 },
        ],
        states,
      ).ok,
    ).toBe(true);
  });
  it('names every reason a split is refused', () => {
    const r = checkSplit(
      [
        { revision: 'r7', weight: 5000 },
        { revision: 'r7', weight: 3000 },
        { revision: 'r9', weight: 1000 },
        { revision: 'rx', weight: 0 },
      ],
      states,
      'zain-prod/support',
    );
    expect(r.ok).toBe(false);
    if (!r.ok)
      expect(r.errors.map((e) => e.code).sort()).toEqual([
        'duplicate-revision',
        'not-ready',
        'sum-not-10000',
        'unknown-revision',
      ]);
  });
});

describe('diffSplits and previousSplit', () => {
  it('lists only revisions whose weight moves', () => {
    expect(
      diffSplits(
        [{ revision: 'r7', weight: 10000 }],
        [
          { revision: 'r7', weight: 9000 },
          { revision: 'r8', weight: 1000 },
        ],
      ),
    ).toEqual([
      { revision: 'r7', from: 10000, to: 9000 },
      { revision: 'r8', from: 0, to: 1000 },
    ]);
  });
  it('rolls back one step to the last different split', () => {
    const a = [{ revision: 'r7', weight: 10000 }];
    const b = [{ revision: 'r8', weight: 10000 }];
    expect(previousSplit([a, b, b])).toEqual(a);
    expect(previousSplit([a])).toBeUndefined();
  });
});

// A model of two deployments, each with its revisions' states and its one split. Random operations through the
// pure rules must never reach an illegal state, every accepted split must sum to 10000, a refused operation must
// change nothing, and an operation on one deployment must never touch the other.
const LEGAL_MOVES = new Set([
  'staged>warming',
  'staged>archived',
  'warming>ready',
  'warming>failed',
  'ready>draining',
  'draining>ready',
  'draining>archived',
  'failed>archived',
]);
type Deployment = { states: Record<string, RevisionState>; split: TrafficEntry[]; staged: number };
type Op =
  | { kind: 'stage'; dep: 0 | 1 }
  | { kind: 'move'; dep: 0 | 1; rev: number; action: (typeof LIFECYCLE_ACTIONS)[number]; healthy: boolean }
  | { kind: 'split'; dep: 0 | 1; fromReady: boolean; picks: number[]; weights: number[] };

describe('random operation sequences (property)', () => {
  const dep = fc.constantFrom<0 | 1>(0, 1);
  // Half of the proposed weights sum to exactly 10000 (cut points in 0..10000), so acceptances are common.
  const summing = fc
    .array(fc.integer({ min: 0, max: 10_000 }), { maxLength: 3 })
    .map((cuts) =>
      [0, ...cuts.sort((a, b) => a - b), 10_000].flatMap((c, i, all) => (i === 0 ? [] : [c - all[i - 1]!])),
    );
  // Every action, the forward ones more often, so runs get past warming and hold traffic.
  const action = fc.oneof(
    ...LIFECYCLE_ACTIONS.map((a) => ({
      weight: a === 'warm' || a === 'mark-ready' ? 3 : a === 'drain' ? 2 : 1,
      arbitrary: fc.constant(a),
    })),
  );
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('stage' as const), dep }) },
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('move' as const),
        dep,
        rev: fc.nat(9),
        action: action,
        healthy: fc.boolean(),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('split' as const),
        dep,
        fromReady: fc.boolean(),
        picks: fc.array(fc.nat(2), { minLength: 4, maxLength: 4 }),
        weights: fc.oneof(summing, fc.array(fc.integer({ min: 0, max: 10_000 }), { minLength: 1, maxLength: 4 })),
      }),
    },
  );
  let seen = { splits: 0, drains: 0, ready: 0, heldBack: 0 };

  it('never produce an illegal state, and refused operations leave the state unchanged', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80, size: 'max' }), (ops) => {
        const deps: [Deployment, Deployment] = [
          { states: {}, split: [], staged: 0 },
          { states: {}, split: [], staged: 0 },
        ];
        for (const o of ops) {
          const before = JSON.stringify(deps);
          const other = JSON.stringify(deps[1 - o.dep]);
          const d = deps[o.dep];
          if (o.kind === 'stage') {
            d.states[`r${d.staged++}`] = 'staged';
          } else if (o.kind === 'move') {
            const ids = Object.keys(d.states); // the move picks one of the deployment's revisions
            const id = ids[o.rev % Math.max(1, ids.length)] ?? 'r0';
            const s = d.states[id];
            if (!s) continue;
            const health = { passed: o.healthy, checkedAt: '2026-11-23T10:00:00Z' };
            const r = decideTransition(s, o.action, { weight: weightOf(d.split, id), health });
            if (r.ok) {
              expect(LEGAL_MOVES.has(`${s}>${r.to}`), `${s} → ${r.to}`).toBe(true);
              if (r.to === 'ready' && s === 'warming') expect(o.healthy).toBe(true);
              if (r.to === 'draining') seen.drains++;
              if (r.to === 'ready') seen.ready++;
              d.states[id] = r.to;
            } else {
              if (r.reason.code === 'holds-traffic') seen.heldBack++;
              expect(JSON.stringify(deps)).toBe(before);
            }
          } else {
            // Half the proposals name the deployment's ready revisions first (the ones a split may use).
            const ready = o.fromReady ? Object.keys(d.states).filter((id) => d.states[id] === 'ready') : [];
            const proposal = o.weights.map((weight, i) => ({ revision: ready[i] ?? `r${o.picks[i] ?? i}`, weight }));
            const r = checkSplit(proposal, d.states);
            if (r.ok) {
              expect(r.entries.reduce((sum, e) => sum + e.weight, 0)).toBe(10_000);
              seen.splits++;
              d.split = [...r.entries];
            } else expect(JSON.stringify(deps)).toBe(before);
          }
          expect(JSON.stringify(deps[1 - o.dep]), 'an operation on one deployment changed the other').toBe(other);
          // Invariants: weight only on ready revisions; every split sums to 10000 or is empty; no duplicates.
          for (const x of deps) {
            for (const e of x.split) expect(x.states[e.revision]).toBe('ready');
            if (x.split.length > 0) expect(x.split.reduce((sum, e) => sum + e.weight, 0)).toBe(10_000);
            expect(new Set(x.split.map((e) => e.revision)).size).toBe(x.split.length);
          }
        }
      }),
      { numRuns: 500 },
    );
    // The property means little if the rules refused everything: the runs must have reached the interesting moves.
    expect(seen.splits).toBeGreaterThan(10);
    expect(seen.ready).toBeGreaterThan(10);
    expect(seen.drains).toBeGreaterThan(10);
    expect(seen.heldBack).toBeGreaterThan(0);
    seen = { splits: 0, drains: 0, ready: 0, heldBack: 0 };
  });
});
