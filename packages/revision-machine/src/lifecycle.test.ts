import { REVISION_STATES, type RevisionState } from '@greentic/deploy-spec';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decideTransition, LIFECYCLE_ACTIONS, type LifecycleAction, nextStates } from './lifecycle';

const PASSED = { passed: true, checkedAt: '2026-11-23T10:00:00Z' };
const LEGAL: Record<RevisionState, RevisionState[]> = {
  staged: ['warming', 'archived'],
  warming: ['ready', 'failed'],
  ready: ['draining'],
  draining: ['ready', 'archived'],
  failed: ['archived'],
  archived: [],
};

describe('decideTransition', () => {
  it('allows exactly the moves of the lifecycle', () => {
    for (const state of REVISION_STATES) expect(nextStates(state).sort()).toEqual([...LEGAL[state]].sort());
  });

  it('walks the happy path staged → warming → ready → draining → archived', () => {
    let s: RevisionState = 'staged';
    for (const a of ['warm', 'mark-ready', 'drain', 'archive'] as LifecycleAction[]) {
      const d = decideTransition(s, a, { weight: 0, health: PASSED });
      expect(d.ok).toBe(true);
      if (d.ok) s = d.to;
    }
    expect(s).toBe('archived');
  });

  it('refuses to mark ready without a passed health result', () => {
    const d = decideTransition('warming', 'mark-ready', {
      weight: 0,
      health: { ...PASSED, passed: false, detail: 'GET /healthz → 503' },
    });
    expect(d).toMatchObject({ ok: false, reason: { code: 'health-not-passed' } });
    if (!d.ok) expect(d.reason.message).toContain('GET /healthz → 503');
    expect(decideTransition('warming', 'mark-ready', { weight: 0 })).toMatchObject({ ok: false });
  });

  it('refuses to drain or archive a revision that holds traffic, naming the share', () => {
    const d = decideTransition('ready', 'drain', { weight: 2500, label: 'r7 of zain-prod/support' });
    expect(d).toMatchObject({ ok: false, reason: { code: 'holds-traffic' } });
    if (!d.ok)
      expect(d.reason.message).toBe(
        'revision r7 of zain-prod/support holds 2500 bps (25%) of traffic; move its traffic to another revision before you drain it',
      );
    expect(decideTransition('draining', 'archive', { weight: 1 })).toMatchObject({
      ok: false,
      reason: { code: 'holds-traffic' },
    });
  });

  it('never lets anything leave archived', () => {
    for (const a of LIFECYCLE_ACTIONS) {
      expect(decideTransition('archived', a, { weight: 0, health: PASSED })).toMatchObject({
        ok: false,
        reason: { code: 'terminal-state' },
      });
    }
  });

  it('refuses every move not in the table, with the legal alternatives in the message', () => {
    fc.assert(
      fc.property(fc.constantFrom(...REVISION_STATES), fc.constantFrom(...LIFECYCLE_ACTIONS), (state, action) => {
        const d = decideTransition(state, action, { weight: 0, health: PASSED });
        if (d.ok) expect(LEGAL[state]).toContain(d.to);
        else expect(d.reason.message.length).toBeGreaterThan(10);
      }),
    );
  });
});
