import { posix } from 'node:path';
import { currentRelease, type HostSnapshot } from './host-probe';
import type { ShaTier } from './release-names';
import { describeHost, type HostTarget } from './ssh-transport';

/**
 * The recorded truth about one host (seed 002 "state-as-truth"): what `current` points at, its source SHA and the
 * service state. Kept by the caller in the store and on the host as `<root>/.truth.json`; status re-derives the live
 * values and compares, it never trusts the record.
 */
export interface TruthRecord {
  readonly host: string;
  readonly root: string;
  /** Release directory name `current` points at (null: no current). */
  readonly release: string | null;
  readonly sha: string | null;
  readonly shaTier: ShaTier;
  readonly label: string | null;
  readonly service: 'active' | 'inactive';
  readonly recordedAt: string;
}

/** One field where the record and the host disagree. */
export interface HostDrift {
  readonly field: 'release' | 'sha' | 'service' | 'host';
  readonly recorded: string | null;
  readonly live: string | null;
  readonly message: string;
}

/** Pure: the truth record that describes a snapshot. */
export function truthFromSnapshot(t: HostTarget, snap: HostSnapshot, at = new Date()): TruthRecord {
  const cur = currentRelease(snap);
  const target = snap.current.kind === 'symlink' ? snap.current.target : undefined;
  const label = typeof cur?.stamp?.label === 'string' ? cur.stamp.label : null;
  return {
    host: describeHost(t),
    root: t.root,
    release: target === undefined ? null : cur ? cur.name : target,
    sha: snap.currentSource?.sha ?? null,
    shaTier: snap.currentSource?.tier ?? 'unknown',
    label,
    service: snap.serviceExit === 0 ? 'active' : 'inactive',
    recordedAt: at.toISOString(),
  };
}

/**
 * Pure: the drift between a recorded truth and the live one (release, source SHA, service state).
 *
 * @example
 * const drift = diffTruth(recorded, truthFromSnapshot(target, snapshot));
 * if (drift.length > 0) console.log(drift.map((d) => d.message).join('\n'));
 */
export function diffTruth(recorded: TruthRecord, live: TruthRecord): HostDrift[] {
  const out: HostDrift[] = [];
  if (recorded.release !== live.release) {
    out.push({
      field: 'release',
      recorded: recorded.release,
      live: live.release,
      message: `current points at ${live.release ?? 'nothing'} but the record says ${recorded.release ?? 'nothing'} (re-pointed out of band?)`,
    });
  }
  const same =
    recorded.sha === live.sha ||
    (recorded.sha !== null &&
      live.sha !== null &&
      (recorded.sha.startsWith(live.sha) || live.sha.startsWith(recorded.sha)));
  if (!same) {
    out.push({
      field: 'sha',
      recorded: recorded.sha,
      live: live.sha,
      message: `live source SHA is ${live.sha ?? 'unknown'} (from ${live.shaTier}) but the record says ${recorded.sha ?? 'none'}`,
    });
  }
  if (recorded.service !== live.service) {
    out.push({
      field: 'service',
      recorded: recorded.service,
      live: live.service,
      message: `service is ${live.service} but the record says ${recorded.service}`,
    });
  }
  if (posix.normalize(recorded.root) !== posix.normalize(live.root) || recorded.host !== live.host) {
    out.push({
      field: 'host',
      recorded: `${recorded.host}:${recorded.root}`,
      live: `${live.host}:${live.root}`,
      message: `the record is for ${recorded.host}:${recorded.root}, not ${live.host}:${live.root}`,
    });
  }
  return out;
}

/** Parse a truth marker/record; undefined when it is not one. */
export function parseTruthRecord(text: string | undefined): TruthRecord | undefined {
  if (!text) return undefined;
  try {
    const v = JSON.parse(text) as Partial<TruthRecord>;
    if (typeof v.host !== 'string' || typeof v.root !== 'string' || !('release' in v)) return undefined;
    return v as TruthRecord;
  } catch {
    return undefined;
  }
}
