import type { AuditEntry } from '@greentic/deploy-spec';
import type { AuditHead, AuditProblem, AuditVerification } from '@greentic/store-contract';
import { canonicalDigest } from './digest';

/** The `prevHash` of the very first entry: 64 zeros. */
export const GENESIS_HASH = `sha256:${'0'.repeat(64)}`;

/** An audit entry before it is chained. */
export type UnchainedEntry = Omit<AuditEntry, 'seq' | 'prevHash' | 'hash'>;

/**
 * Chain an entry to the previous one: `hash` is the content digest of the canonical JSON of every other field
 * (including `seq` and `prevHash`), so editing any field, removing or reordering entries breaks the chain.
 */
export function chainEntry(entry: UnchainedEntry, seq: number, prevHash: string): AuditEntry {
  const unhashed: Omit<AuditEntry, 'hash'> = { ...stripUndefined(entry), seq, prevHash };
  return { ...unhashed, hash: canonicalDigest(unhashed) };
}

/** The digest an entry should carry, recomputed from its content. */
export function expectedHash(entry: AuditEntry): string {
  const { hash: _ignored, ...rest } = entry;
  return canonicalDigest(rest);
}

/** One stored audit row as the verifier sees it. */
export interface StoredAuditRow {
  readonly seq: number;
  /** The row's JSON text (may be damaged). */
  readonly entry: string;
  /** The hash column kept next to the JSON. */
  readonly hash: string;
}

/** Where the chain starts (after retention trimmed a prefix) and where it must end. */
export interface ChainBounds {
  readonly anchor: AuditHead;
  /** The head recorded alongside the generation; a truncated tail shows as a gap to it. */
  readonly head: AuditHead;
}

/**
 * Walk the chain from its anchor and report every entry at which it stops holding: an edited entry (its hash
 * does not match its content), a removed one (a gap in the sequence, or a tail shorter than the recorded head),
 * a reordered one (an entry stored under another sequence number), a broken link (prevHash not the previous hash).
 *
 * @example
 * verifyChain(rows, { anchor: { seq: 0, hash: GENESIS_HASH }, head }).ok
 */
export function verifyChain(rows: readonly StoredAuditRow[], bounds: ChainBounds): AuditVerification {
  const problems: AuditProblem[] = [];
  let prev = bounds.anchor.hash;
  let expectedSeq = bounds.anchor.seq + 1;
  let last: AuditHead | null = null;
  for (const row of rows) {
    let gap = false;
    if (row.seq > expectedSeq) {
      gap = true;
      const range = row.seq - 1 === expectedSeq ? `${expectedSeq}` : `${expectedSeq}–${row.seq - 1}`;
      problems.push({ seq: expectedSeq, problem: 'removed', message: `audit entries ${range} are missing` });
    }
    let entry: AuditEntry | undefined;
    try {
      entry = JSON.parse(row.entry) as AuditEntry;
    } catch {
      problems.push({ seq: row.seq, problem: 'edited', message: `audit entry ${row.seq} is not valid JSON` });
    }
    if (entry) {
      if (entry.seq !== row.seq) {
        problems.push({
          seq: row.seq,
          problem: 'reordered',
          message: `audit entry stored as ${row.seq} says it is entry ${entry.seq}`,
        });
      } else if (expectedHash(entry) !== entry.hash || entry.hash !== row.hash) {
        problems.push({
          seq: row.seq,
          problem: 'edited',
          message: `audit entry ${row.seq} was edited: its content no longer matches its hash`,
        });
      } else if (entry.prevHash !== prev && !gap) {
        problems.push({
          seq: row.seq,
          problem: 'broken-link',
          message: `audit entry ${row.seq} does not chain to entry ${row.seq - 1}`,
        });
      }
    }
    prev = row.hash;
    expectedSeq = row.seq + 1;
    last = { seq: row.seq, hash: row.hash };
  }
  if (bounds.head.seq >= expectedSeq) {
    const range = bounds.head.seq === expectedSeq ? `${expectedSeq}` : `${expectedSeq}–${bounds.head.seq}`;
    problems.push({ seq: expectedSeq, problem: 'removed', message: `audit entries ${range} are missing at the end` });
  }
  return { ok: problems.length === 0, entries: rows.length, head: last, problems };
}

function stripUndefined<T extends object>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as T;
}
