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

// A model of one deployment: revisions with states plus one split. Random operations through the pure rules
// must never reach an illegal state, and a refused operation must change nothing.
type Op =
  | { kind: 'stage' }
  | { kind: 'move'; rev: number; action: (typeof LIFECYCLE_ACTIONS)[number]; healthy: boolean }
  | { kind: 'split'; weights: number[] };

describe('random operation sequences (property)', () => {
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.constant<Op>({ kind: 'stage' }),
    fc.record({
      kind: fc.constant('move' as const),
      rev: fc.nat(5),
      action: fc.constantFrom(...LIFECYCLE_ACTIONS),
      healthy: fc.boolean(),
    }),
    fc.record({
      kind: fc.constant('split' as const),
      weights: fc.array(fc.integer({ min: 0, max: 10_000 }), { minLength: 1, maxLength: 4 }),
    }),
  );

  it('never produce an illegal state, and refused operations leave the state unchanged', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const states: Record<string, RevisionState> = {};
        let split: TrafficEntry[] = [];
        let n = 0;
        for (const o of ops) {
          const before = JSON.stringify({ states, split });
          if (o.kind === 'stage') {
            states[`r${n++}`] = 'staged';
            continue;
          }
          if (o.kind === 'move') {
            const id = `r${o.rev}`;
            const s = states[id];
            if (!s) continue;
            const d = decideTransition(s, o.action, {
              weight: weightOf(split, id),
              health: { passed: o.healthy, checkedAt: '2026-11-23T10:00:00Z' },
            });
            if (d.ok) states[id] = d.to;
            else expect(JSON.stringify({ states, split })).toBe(before);
          } else {
            const ids = Object.keys(states);
            const proposal = o.weights.map((weight, i) => ({ revision: ids[i] ?? `r${i}`, weight }));
            const r = checkSplit(proposal, states);
            if (r.ok) {
              expect(r.entries.reduce((s, e) => s + e.weight, 0)).toBe(10_000);
              split = [...r.entries];
            } else expect(JSON.stringify({ states, split })).toBe(before);
          }
          // Invariants: weight only on ready revisions; every split sums to 10000 or is empty.
          for (const e of split) expect(states[e.revision]).toBe('ready');
          if (split.length > 0) expect(split.reduce((s, e) => s + e.weight, 0)).toBe(10_000);
        }
      }),
      { numRuns: 300 },
    );
  });
});
