import { BASIS_POINTS_TOTAL, isDnsLabel, type RevisionState, type TrafficEntry } from '@greentic/deploy-spec';
import { formatPercent } from './lifecycle';

/** Why a split was refused; each names the revision or the number at fault. */
export type SplitRefusalCode =
  | 'empty'
  | 'bad-weight'
  | 'sum-not-10000'
  | 'duplicate-revision'
  | 'unknown-revision'
  | 'not-ready';
export interface SplitRefusal {
  readonly code: SplitRefusalCode;
  readonly message: string;
  readonly revision?: string;
}

export type SplitCheck =
  | { readonly ok: true; readonly entries: readonly TrafficEntry[] }
  | { readonly ok: false; readonly errors: readonly SplitRefusal[] };

/**
 * Check a proposed split against the rules: integer basis points summing to exactly 10000, no revision twice,
 * every revision known and `ready` (zero-weight entries too; they are dropped from the result).
 *
 * @example
 * checkSplit([{ revision: 'r7', weight: 9000 }, { revision: 'r8', weight: 1000 }], { r7: 'ready', r8: 'ready' }).ok // true
 */
export function checkSplit(
  entries: readonly TrafficEntry[],
  states: Readonly<Record<string, RevisionState | undefined>>,
  label = 'the deployment',
): SplitCheck {
  const errors: SplitRefusal[] = [];
  if (entries.length === 0) errors.push({ code: 'empty', message: `a split for ${label} needs at least one revision` });
  const seen = new Set<string>();
  let sum = 0;
  for (const e of entries) {
    if (!Number.isInteger(e.weight) || e.weight < 0 || e.weight > BASIS_POINTS_TOTAL) {
      errors.push({
        code: 'bad-weight',
        revision: e.revision,
        message: `revision ${e.revision}: weight must be an integer number of basis points (0–10000), got ${e.weight}`,
      });
    } else sum += e.weight;
    if (seen.has(e.revision)) {
      errors.push({
        code: 'duplicate-revision',
        revision: e.revision,
        message: `revision ${e.revision} appears twice in the split for ${label}`,
      });
    }
    seen.add(e.revision);
    const state = states[e.revision];
    if (state === undefined) {
      errors.push({
        code: 'unknown-revision',
        revision: e.revision,
        message: `revision ${e.revision} does not exist in ${label}`,
      });
    } else if (state !== 'ready') {
      errors.push({
        code: 'not-ready',
        revision: e.revision,
        message: `revision ${e.revision} of ${label} is ${state}; only ready revisions may receive traffic (warm it first)`,
      });
    }
  }
  if (errors.every((e) => e.code !== 'bad-weight') && entries.length > 0 && sum !== BASIS_POINTS_TOTAL) {
    errors.push({
      code: 'sum-not-10000',
      message: `weights for ${label} sum to ${sum} bps (${formatPercent(sum)}); they must sum to exactly 10000 bps (100%)`,
    });
  }
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, entries: normalizeSplit(entries) };
}

/** Drop zero weights and sort by revision id, so equal splits compare equal. */
export function normalizeSplit(entries: readonly TrafficEntry[]): TrafficEntry[] {
  return entries
    .filter((e) => e.weight > 0)
    .map((e) => ({ revision: e.revision, weight: e.weight }))
    .sort((a, b) => (a.revision < b.revision ? -1 : a.revision > b.revision ? 1 : 0));
}

/** The weight a revision holds in a split (0 when absent). */
export function weightOf(entries: readonly TrafficEntry[], revision: string): number {
  return entries.find((e) => e.revision === revision)?.weight ?? 0;
}

export type ParseResult =
  | { readonly ok: true; readonly entries: TrafficEntry[] }
  | { readonly ok: false; readonly errors: readonly string[] };

const PERCENT = /^(\d{1,3})(?:\.(\d{1,2}))?%?$/;

/**
 * Parse hand-typed traffic (`r7=90 r8=10`, percent with up to two decimals) into basis points.
 *
 * @example
 * parseTrafficArgs(['r7=90.5', 'r8=9.5']) // { ok: true, entries: [{ revision: 'r7', weight: 9050 }, { revision: 'r8', weight: 950 }] }
 */
export function parseTrafficArgs(args: readonly string[]): ParseResult {
  const errors: string[] = [];
  const entries: TrafficEntry[] = [];
  const tokens = args.flatMap((a) => a.split(/[\s,]+/)).filter((t) => t.length > 0);
  if (tokens.length === 0) return { ok: false, errors: ['give at least one revision=percent, e.g. r7=90 r8=10'] };
  for (const t of tokens) {
    const eq = t.indexOf('=');
    const revision = eq === -1 ? '' : t.slice(0, eq);
    const pct = eq === -1 ? '' : t.slice(eq + 1);
    if (!isDnsLabel(revision)) {
      errors.push(`"${t}": expected revision=percent such as r7=90, where the revision id is a DNS-1123 label`);
      continue;
    }
    const m = PERCENT.exec(pct);
    if (!m) {
      errors.push(`"${t}": the share must be a percent with at most two decimals (e.g. ${revision}=12.5)`);
      continue;
    }
    const bps = Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0') || '0');
    if (bps > BASIS_POINTS_TOTAL) {
      errors.push(`"${t}": a share cannot exceed 100%`);
      continue;
    }
    entries.push({ revision, weight: bps });
  }
  if (errors.length === 0) {
    const sum = entries.reduce((s, e) => s + e.weight, 0);
    if (sum !== BASIS_POINTS_TOTAL) errors.push(`shares sum to ${formatPercent(sum)}; they must sum to exactly 100%`);
    const dup = entries.find((e, i) => entries.findIndex((x) => x.revision === e.revision) !== i);
    if (dup) errors.push(`revision ${dup.revision} is given twice`);
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, entries };
}

/** Format a split the way people type it: `r7=90 r8=10`. */
export function formatSplit(entries: readonly TrafficEntry[]): string {
  return normalizeSplit(entries)
    .map((e) => `${e.revision}=${formatPercent(e.weight).slice(0, -1)}`)
    .join(' ');
}

export interface WeightChange {
  readonly revision: string;
  readonly from: number;
  readonly to: number;
}

/**
 * What changes between two splits, one line per revision whose weight moves.
 *
 * @example
 * diffSplits([{ revision: 'r7', weight: 10000 }], [{ revision: 'r7', weight: 9000 }, { revision: 'r8', weight: 1000 }])
 * // [{ revision: 'r7', from: 10000, to: 9000 }, { revision: 'r8', from: 0, to: 1000 }]
 */
export function diffSplits(before: readonly TrafficEntry[], after: readonly TrafficEntry[]): WeightChange[] {
  const ids = [...new Set([...before, ...after].map((e) => e.revision))].sort();
  return ids
    .map((revision) => ({ revision, from: weightOf(before, revision), to: weightOf(after, revision) }))
    .filter((c) => c.from !== c.to);
}

/** True when two splits give every revision the same weight. */
export function sameSplit(a: readonly TrafficEntry[], b: readonly TrafficEntry[]): boolean {
  return diffSplits(a, b).length === 0;
}

/**
 * The split to return to for a one-step rollback: the newest entry of `history` (oldest first) that differs
 * from the current split, or `undefined` when there is nothing to roll back to.
 *
 * @example
 * previousSplit([[{ revision: 'r7', weight: 10000 }], [{ revision: 'r8', weight: 10000 }]]) // [{ revision: 'r7', weight: 10000 }]
 */
export function previousSplit(history: readonly (readonly TrafficEntry[])[]): TrafficEntry[] | undefined {
  const current = history.at(-1);
  if (!current) return undefined;
  for (let i = history.length - 2; i >= 0; i--) {
    const h = history[i];
    if (h && !sameSplit(h, current)) return normalizeSplit(h);
  }
  return undefined;
}
