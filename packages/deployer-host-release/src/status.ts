import { currentRelease, type HostSnapshot, probeHost } from './host-probe';
import { checkRoot, type SourceSha } from './release-names';
import { writeTruthMarker } from './release-steps';
import { describeHost, type HostTarget } from './ssh-transport';
import { diffTruth, type HostDrift, parseTruthRecord, type TruthRecord, truthFromSnapshot } from './truth-record';

export interface StatusOptions {
  /** The recorded truth to compare with (from the store). Default: the host-local marker `<root>/.truth.json`. */
  readonly expected?: TruthRecord;
  /** Rewrite the host-local truth marker with the live truth (never the runtime). */
  readonly update?: boolean;
}

export interface HostStatus {
  readonly host: string;
  readonly root: string;
  readonly observedAt: string;
  /** `current` as found: the raw link, its absolute target, and whether it is a release under `releases/`. */
  readonly current:
    | { readonly state: 'absent' }
    | { readonly state: 'not-a-symlink' }
    | { readonly state: 'dangling'; readonly link: string; readonly target: string }
    | {
        readonly state: 'release';
        readonly link: string;
        readonly target: string;
        readonly release: string | undefined;
      };
  /** The three-tier source SHA and which tier answered (release-json, git, dir-name, unknown). */
  readonly source: SourceSha | undefined;
  readonly service: 'active' | 'inactive';
  readonly health: 'passed' | 'failed' | 'not-configured';
  readonly rollbackTarget: string | undefined;
  readonly releases: readonly {
    readonly name: string;
    readonly failed: boolean;
    readonly sha: string | undefined;
    readonly tier: string;
  }[];
  readonly leftovers: readonly string[];
  /** What the live truth was compared with. */
  readonly recorded: { readonly from: 'expected' | 'host-marker' | 'none'; readonly record: TruthRecord | undefined };
  readonly drift: readonly HostDrift[];
  readonly live: TruthRecord;
  /** True when `update` rewrote the host marker. */
  readonly updated: boolean;
  readonly lines: readonly string[];
}

/**
 * Re-derive the truth of a host (seed 002 "Drift detection"): where `current` points, the source SHA in three tiers
 * (`.release.json` → `git rev-parse` in the release → `<sha>-<label>` name, saying which tier answered), the
 * service state, and drift against the recorded truth (`expected`, else the host marker). `update: true` rewrites
 * only the host-local truth marker with what it found — never the runtime.
 *
 * @example
 * const s = await hostStatus(host, { expected: recordFromStore });
 * if (s.drift.length > 0) console.log(s.drift.map((d) => d.message).join('\n'));
 */
export async function hostStatus(t: HostTarget, opts: StatusOptions = {}): Promise<HostStatus> {
  checkRoot(t.root);
  const snap = await probeHost(t);
  const live = truthFromSnapshot(t, snap);
  const marker = parseTruthRecord(snap.truthMarker);
  const recorded = opts.expected
    ? { from: 'expected' as const, record: opts.expected }
    : marker
      ? { from: 'host-marker' as const, record: marker }
      : { from: 'none' as const, record: undefined };
  const drift = recorded.record ? diffTruth(recorded.record, live) : [];
  if (opts.update === true) await writeTruthMarker(t, JSON.stringify(live));
  const status: Omit<HostStatus, 'lines'> = {
    host: describeHost(t),
    root: t.root,
    observedAt: live.recordedAt,
    current: describeCurrent(snap),
    source: snap.currentSource,
    service: snap.serviceExit === 0 ? 'active' : 'inactive',
    health: snap.healthExit === undefined ? 'not-configured' : snap.healthExit === 0 ? 'passed' : 'failed',
    rollbackTarget: snap.rollbackTarget,
    releases: snap.releases.map((r) => ({ name: r.name, failed: r.failed, sha: r.source.sha, tier: r.source.tier })),
    leftovers: snap.leftovers.map((l) => l.path),
    recorded,
    drift,
    live,
    updated: opts.update === true,
  };
  return { ...status, lines: formatStatus(status) };
}

function describeCurrent(snap: HostSnapshot): HostStatus['current'] {
  const c = snap.current;
  if (c.kind !== 'symlink') return { state: c.kind };
  if (!c.exists) return { state: 'dangling', link: c.link, target: c.target };
  return { state: 'release', link: c.link, target: c.target, release: currentRelease(snap)?.name };
}

function formatStatus(s: Omit<HostStatus, 'lines'>): string[] {
  const cur =
    s.current.state === 'release'
      ? `${s.current.target}${s.current.release ? '' : ' (not under releases/)'}`
      : s.current.state === 'dangling'
        ? `${s.current.target} (DANGLING: the target does not exist)`
        : s.current.state;
  const src = s.source
    ? `${s.source.sha ?? 'unknown'} (tier: ${s.source.tier}${s.source.disagreements.length > 0 ? `; disagrees: ${s.source.disagreements.map((d) => `${d.tier}=${d.sha}`).join(', ')}` : ''})`
    : 'unknown';
  return [
    `[greentic.deployer.host-release] status of ${s.host}:${s.root}`,
    `  current:   ${cur}`,
    `  source:    ${src}`,
    `  service:   ${s.service}${s.health === 'not-configured' ? '' : `, health ${s.health}`}`,
    `  rollback:  ${s.rollbackTarget ?? '(none recorded)'}`,
    `  releases:  ${s.releases.length} (${s.releases.filter((r) => r.failed).length} failed)${s.leftovers.length > 0 ? `; staging leftovers: ${s.leftovers.join(', ')}` : ''}`,
    s.recorded.from === 'none'
      ? '  drift:     no recorded truth to compare with (pass expected, or run with --update to record it)'
      : s.drift.length === 0
        ? `  drift:     none (compared with ${s.recorded.from})`
        : `  drift:     ${s.drift.length} vs ${s.recorded.from}: ${s.drift.map((d) => d.message).join('; ')}`,
    ...(s.updated
      ? [`  updated:   ${s.root}/.truth.json rewritten with the live truth (the runtime was not touched)`]
      : []),
  ];
}
