import type { HealthResult, RevisionState } from '@greentic/deploy-spec';

/**
 * The lifecycle of DESIGN.md as a table: action → the states it may start from → the state it leads to.
 * `staged → warming → ready → draining → archived`, `failed` from `warming`; `draining → ready` cancels a
 * drain; `failed` and never-warmed `staged` revisions may be archived to clean them up; nothing leaves `archived`.
 */
export const LIFECYCLE = {
  warm: { from: ['staged'], to: 'warming' },
  'mark-ready': { from: ['warming'], to: 'ready' },
  fail: { from: ['warming'], to: 'failed' },
  drain: { from: ['ready'], to: 'draining' },
  'cancel-drain': { from: ['draining'], to: 'ready' },
  archive: { from: ['draining', 'failed', 'staged'], to: 'archived' },
} as const satisfies Record<string, { from: readonly RevisionState[]; to: RevisionState }>;

export type LifecycleAction = keyof typeof LIFECYCLE;
export const LIFECYCLE_ACTIONS = Object.keys(LIFECYCLE) as LifecycleAction[];

/** Why a move was refused. A stable code for programs, a sentence for people. */
export type RefusalCode = 'illegal-transition' | 'holds-traffic' | 'health-not-passed' | 'terminal-state';
export interface Refusal {
  readonly code: RefusalCode;
  readonly message: string;
}

export type Decision =
  | { readonly ok: true; readonly from: RevisionState; readonly to: RevisionState }
  | { readonly ok: false; readonly reason: Refusal };

export interface TransitionContext {
  /** Basis points of traffic the revision currently holds in its deployment's split (0 when none). */
  readonly weight: number;
  /** The health result that justifies `mark-ready`; required to be passed for that move. */
  readonly health?: HealthResult | undefined;
  /** How to name the revision in messages, e.g. `r7 of zain-prod/support`. */
  readonly label?: string | undefined;
}

/** Every state reachable in one legal move from `state`. @example nextStates('draining') // ['ready', 'archived'] */
export function nextStates(state: RevisionState): RevisionState[] {
  const out = new Set<RevisionState>();
  for (const a of LIFECYCLE_ACTIONS) {
    const rule = LIFECYCLE[a];
    if ((rule.from as readonly RevisionState[]).includes(state)) out.add(rule.to);
  }
  return [...out];
}

/**
 * Decide whether `action` may move a revision in `state`. Pure: no I/O, no clock; the store applies the
 * decision in its own transaction.
 *
 * @example
 * decideTransition('ready', 'drain', { weight: 2500, label: 'r7 of zain-prod/support' })
 * // { ok: false, reason: { code: 'holds-traffic', message: 'revision r7 of zain-prod/support holds 2500 bps …' } }
 */
export function decideTransition(state: RevisionState, action: LifecycleAction, ctx: TransitionContext): Decision {
  const rule = LIFECYCLE[action];
  const who = `revision ${ctx.label ?? ''}`.trimEnd();
  if (!rule) {
    return { ok: false, reason: { code: 'illegal-transition', message: `${who}: unknown action "${String(action)}"` } };
  }
  if (state === 'archived') {
    return {
      ok: false,
      reason: {
        code: 'terminal-state',
        message: `${who} is archived; nothing leaves archived (stage a new revision instead)`,
      },
    };
  }
  if (!(rule.from as readonly RevisionState[]).includes(state)) {
    const legal = nextStates(state);
    return {
      ok: false,
      reason: {
        code: 'illegal-transition',
        message: `${who} is ${state}; ${action} needs it to be ${rule.from.join(' or ')} (from ${state} it can go to ${legal.join(', ') || 'nowhere'})`,
      },
    };
  }
  if ((action === 'drain' || action === 'archive') && ctx.weight > 0) {
    return {
      ok: false,
      reason: {
        code: 'holds-traffic',
        message: `${who} holds ${ctx.weight} bps (${formatPercent(ctx.weight)}) of traffic; move its traffic to another revision before you ${action} it`,
      },
    };
  }
  if (action === 'mark-ready' && ctx.health?.passed !== true) {
    return {
      ok: false,
      reason: {
        code: 'health-not-passed',
        message: `${who} has not passed its health gate${ctx.health?.detail ? ` (${ctx.health.detail})` : ''}; it stays warming until a health check passes`,
      },
    };
  }
  return { ok: true, from: state, to: rule.to };
}

/** Basis points as a percent string: 2500 → "25%", 1234 → "12.34%". */
export function formatPercent(bps: number): string {
  const whole = Math.trunc(bps / 100);
  const frac = bps % 100;
  return frac === 0 ? `${whole}%` : `${whole}.${String(frac).padStart(2, '0').replace(/0$/, '')}%`;
}
