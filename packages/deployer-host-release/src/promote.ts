import { hostname, userInfo } from 'node:os';
import { posix, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { EnvPackError } from '@greentic/env-pack';
import { type ResolvedCommit, resolveCommit } from './git-source';
import { withHostLock } from './host-lock';
import { type HostSnapshot, probeHost, type ReleaseStamp } from './host-probe';
import { pruneReleases } from './prune';
import { checkLabel, checkRoot, releaseDirName, releasesDir, sameCommit } from './release-names';
import { flipCurrent, markFailed, restartService, shipRelease, writeTruthMarker } from './release-steps';
import { describeHost, type HostTarget, PACK_ID } from './ssh-transport';
import { type TruthRecord, truthFromSnapshot } from './truth-record';

/** What a promotion will touch, printed before anything happens (seed 002 "Dry-run by default"). */
export interface PromotePlan {
  readonly host: string;
  readonly commit: string;
  readonly ref: string;
  readonly worktree: string;
  /** The worktree has uncommitted changes: they are NOT part of the release (git archive ships the commit). */
  readonly worktreeDirty: boolean;
  readonly label: string;
  readonly release: string;
  /** The release directory already exists on the host (re-promotion: nothing is transferred). */
  readonly releaseExists: boolean;
  readonly staging: string;
  readonly symlink: string;
  /** Where `current` points now (the rollback target that will be recorded), or undefined on a first promotion. */
  readonly currentTarget: string | undefined;
  readonly rollbackRecord: string;
  readonly service: {
    readonly name: string;
    readonly restart: string;
    readonly status: string;
    readonly health?: string;
  };
  /** Hygiene after a verified promotion: keep this many good releases. */
  readonly keepReleases: number;
}

export interface VerifyReport {
  readonly ok: boolean;
  readonly checks: readonly {
    readonly name: 'service' | 'health' | 'symlink' | 'source-sha';
    readonly ok: boolean;
    readonly detail: string;
  }[];
  /** Why it failed, in one sentence (undefined when ok). */
  readonly reason: string | undefined;
}

export type PromoteOutcome = 'dry-run' | 'promoted' | 'already-current' | 'rolled-back' | 'failed';

export interface PromoteResult {
  readonly outcome: PromoteOutcome;
  readonly plan: PromotePlan;
  /** The plan, as printed (dry run or not), then one line per step taken. */
  readonly lines: readonly string[];
  readonly verify?: VerifyReport;
  /** Why the promotion did not stick (verify failure, restart failure), when outcome is rolled-back or failed. */
  readonly reason?: string;
  /** After an automatic rollback: where `current` points again and whether that verified. */
  readonly rollback?: { readonly to: string | undefined; readonly verify: VerifyReport | undefined };
  /** The truth record to keep in the store (what now runs, re-derived from the host). */
  readonly truth?: TruthRecord;
  /** Release directories removed by hygiene after a verified promotion. */
  readonly pruned?: readonly string[];
}

export interface PromoteOptions {
  /** Path of the git worktree holding the commit. */
  readonly worktree: string;
  /** The ref to ship (default `HEAD`); resolved to the exact commit with `git rev-parse`. */
  readonly ref?: string;
  /** Release label, the `<label>` of `<sha>-<label>` (e.g. `v1.4.2`). */
  readonly label: string;
  /** Who promotes (default `user@machine`), written into `.release.json`. */
  readonly promoter?: string;
  /** Do it. Without it, nothing on the host changes and the result is the plan (`outcome: 'dry-run'`). */
  readonly apply?: boolean;
  /** Override the host's `keepReleases` for the hygiene pass after a verified promotion (0 disables it). */
  readonly keepReleases?: number;
  /** Progress lines as they happen (never secrets). */
  readonly log?: (line: string) => void;
  readonly signal?: AbortSignal;
}

const tag = `[${PACK_ID}]`;

/**
 * Print a promote plan the way `gtc op host promote` shows it: host, commit, release path, symlink, service.
 *
 * @example
 * for (const line of formatPromotePlan(result.plan, false)) console.log(line);
 */
export function formatPromotePlan(p: PromotePlan, apply: boolean): string[] {
  return [
    `${tag} promote ${apply ? '(applying)' : '(dry run: nothing will change; pass --apply / apply: true to do it)'}`,
    `  host:      ${p.host}`,
    `  commit:    ${p.commit} (${p.ref} of ${p.worktree})${p.worktreeDirty ? ' — worktree has uncommitted changes, they are NOT shipped' : ''}`,
    `  release:   ${p.release}${p.releaseExists ? ' (already on the host: nothing to transfer)' : ` (new: git archive ${p.commit.slice(0, 12)} | ssh → ${p.staging}, checked, renamed into place)`}`,
    `  stamp:     ${p.release}/.release.json (sha, label ${p.label}, source, promoter, timestamp)`,
    `  rollback:  ${p.rollbackRecord} ← ${p.currentTarget ?? '(none: first promotion)'}`,
    `  symlink:   ${p.symlink} → ${p.release} (was ${p.currentTarget ?? 'absent'}; new symlink renamed over the old)`,
    `  service:   ${p.service.name}: restart \`${p.service.restart}\`; verify \`${p.service.status}\`${p.service.health ? ` and \`${p.service.health}\`` : ''}, symlink, source SHA`,
    `  hygiene:   keep the last ${p.keepReleases} good releases (never current or the rollback target)`,
  ];
}

/**
 * Promote an exact commit of a git worktree to a host (seed 002 Archetype A). Dry run unless `apply: true`: the
 * result then holds the plan and nothing on the host changed. Applied, it ships `git archive <sha>` into
 * `<root>/releases/<sha>-<label>`, stamps `.release.json`, records the current target in `.rollback-target`,
 * flips `current` atomically, restarts the service and verifies (active, symlink, source SHA). A failed verify
 * rolls back to the recorded target automatically and the result says why (`outcome: 'rolled-back'`).
 *
 * @example
 * const dry = await promote(host, { worktree: '/src/agent', label: 'v2' });
 * dry.lines.forEach((l) => console.log(l));
 * const done = await promote(host, { worktree: '/src/agent', label: 'v2', apply: true });
 * if (done.outcome !== 'promoted' && done.outcome !== 'already-current') process.exitCode = 1;
 */
export async function promote(t: HostTarget, opts: PromoteOptions): Promise<PromoteResult> {
  checkRoot(t.root);
  checkLabel(opts.label);
  const worktree = resolve(opts.worktree);
  const commit = await resolveCommit(worktree, opts.ref ?? 'HEAD');
  // Applying holds the host lock from the first read to the last write, so the state it acts on is the state it read.
  if (opts.apply === true)
    return withHostLock(t, `promote ${commit.sha}-${opts.label}`, () => promoteOn(t, opts, worktree, commit));
  return promoteOn(t, opts, worktree, commit);
}

async function promoteOn(
  t: HostTarget,
  opts: PromoteOptions,
  worktree: string,
  commit: ResolvedCommit,
): Promise<PromoteResult> {
  const snap = await probeHost(t, opts.signal ? { signal: opts.signal } : {});
  const name = releaseDirName(commit.sha, opts.label);
  const release = posix.join(releasesDir(t.root), name);
  const existing = snap.releases.find((r) => r.name === name);
  const currentTarget = snap.current.kind === 'symlink' ? snap.current.target : undefined;
  const keep = opts.keepReleases ?? t.keepReleases ?? 5;
  const plan: PromotePlan = {
    host: describeHost(t),
    commit: commit.sha,
    ref: commit.ref,
    worktree,
    worktreeDirty: commit.dirty,
    label: opts.label,
    release,
    releaseExists: existing !== undefined,
    staging: posix.join(releasesDir(t.root), `.incoming-${commit.sha}-<random>`),
    symlink: posix.join(t.root, 'current'),
    currentTarget,
    rollbackRecord: posix.join(t.root, '.rollback-target'),
    service: {
      name: t.service.name,
      restart: t.service.restart,
      status: t.service.status,
      ...(t.service.health ? { health: t.service.health } : {}),
    },
    keepReleases: keep,
  };
  const lines = formatPromotePlan(plan, opts.apply === true);
  const say = (l: string) => {
    lines.push(l);
    opts.log?.(l);
  };
  if (opts.log) for (const l of lines) opts.log(l);
  if (opts.apply !== true) return { outcome: 'dry-run', plan, lines };

  if (snap.rootState === 'not-a-dir') {
    throw new EnvPackError(
      'refused',
      `release root ${t.root} on ${plan.host} exists but is not a directory; nothing was changed`,
      { pack: PACK_ID },
    );
  }
  if (snap.current.kind === 'not-a-symlink') {
    throw new EnvPackError(
      'conflict',
      `${plan.symlink} on ${plan.host} is a real directory or file, not a symlink: refusing to replace it; move it away first. Nothing was changed`,
      { pack: PACK_ID },
    );
  }
  if (existing?.failed) {
    throw new EnvPackError(
      'refused',
      `release ${name} on ${plan.host} failed before (${existing.failedReason ?? 'marked failed'}); it is never promoted again: commit a fix, or use a new label. Nothing was changed`,
      { pack: PACK_ID },
    );
  }
  if (currentTarget === release && snap.serviceExit === 0) {
    say(`${tag} ${plan.host}: ${release} is already current and the service is active; nothing to do`);
    return { outcome: 'already-current', plan, lines, truth: truthFromSnapshot(t, snap) };
  }

  if (!existing) {
    const stamp: ReleaseStamp = {
      schema: 'greentic.host-release/v1',
      sha: commit.sha,
      label: opts.label,
      source: `${worktree}@${commit.ref}`,
      promoter: opts.promoter ?? `${userInfo().username}@${hostname()}`,
      timestamp: new Date().toISOString(),
      ...(commit.dirty ? { worktreeDirty: true } : {}),
    };
    const sent = await shipRelease(t, {
      worktree,
      sha: commit.sha,
      name,
      stamp: JSON.stringify(stamp),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    say(`${tag} shipped ${commit.sha} (${sent.bytes} bytes, sha256 ${sent.sha256.slice(0, 16)}…) into ${release}`);
  }
  const prevRecord = snap.rollbackTarget;
  await flipCurrent(t, {
    to: release,
    expect: snap.current.kind === 'symlink' ? snap.current.link : '',
    rollback: currentTarget && currentTarget !== release ? currentTarget : '-',
  });
  say(`${tag} ${plan.symlink} → ${release}${currentTarget ? ` (rollback target ${currentTarget} recorded)` : ''}`);
  const verify = await restartAndVerify(t, release, commit.sha, say);
  if (verify.ok) {
    const after = await probeHost(t);
    const truth = truthFromSnapshot(t, after);
    await writeTruthMarker(t, JSON.stringify(truth));
    let pruned: string[] = [];
    if (keep > 0) {
      const p = await pruneReleases(t, { keep, apply: true, lockHeld: true });
      pruned = [...p.remove.map((r) => r.path)];
      if (pruned.length > 0) say(`${tag} hygiene removed ${pruned.join(', ')}`);
    }
    say(`${tag} promoted ${commit.sha} (${opts.label}) on ${plan.host}`);
    return { outcome: 'promoted', plan, lines, verify, truth, pruned };
  }

  // Verify failed: the release is marked failed (never a good release again) and current goes back to what it was
  // (re-promoting the current release: to the recorded rollback target).
  const reason = `verify of ${name} failed: ${verify.reason}`;
  const backTo = currentTarget !== release ? currentTarget : snap.rollbackTarget;
  const backLink = currentTarget !== release && snap.current.kind === 'symlink' ? snap.current.link : (backTo ?? '');
  say(`${tag} ${reason}; rolling back to ${backTo ?? '(no previous release: removing current)'}`);
  let back: VerifyReport | undefined;
  try {
    const unmarked = await markFailed(t, name, verify.reason ?? 'verify failed');
    if (unmarked) say(`${tag} WARNING: ${name} may not be marked failed (${unmarked}); do not promote it again`);
    await flipCurrent(t, { to: backLink, expect: release, rollback: prevRecord ?? '', restore: true });
    if (backTo) {
      const prev = snap.releases.find((r) => r.path === backTo);
      back = await restartAndVerify(t, backTo, prev?.source.sha, say);
    }
  } catch (e) {
    const why = `${reason}; the automatic rollback to ${backTo ?? '(no current)'} broke off: ${(e as Error).message}`;
    say(`${tag} ${why}`);
    return { outcome: 'failed', plan, lines, verify, reason: why, rollback: { to: backTo, verify: back } };
  }
  const after = await probeHost(t);
  const ok = backTo === undefined || back?.ok === true;
  say(`${tag} ${ok ? 'rolled back' : 'ROLLBACK DID NOT VERIFY'}: current → ${backTo ?? '(absent)'}`);
  return {
    outcome: ok ? 'rolled-back' : 'failed',
    plan,
    lines,
    verify,
    reason: ok ? reason : `${reason}; the rollback to ${backTo} did not verify either: ${back?.reason ?? 'unknown'}`,
    rollback: { to: backTo, verify: back },
    truth: truthFromSnapshot(t, after),
  };
}

/**
 * Restart the service and poll until it verifies: the service status (and health) command passes, `current`
 * points at `release`, and the three-tier source SHA of `current` is `sha`. Gives up after the host's
 * `verifyTimeoutMs` with the reason of the last failed check.
 */
export async function restartAndVerify(
  t: HostTarget,
  release: string,
  sha: string | undefined,
  say: (line: string) => void,
): Promise<VerifyReport> {
  const restarted = await restartService(t);
  say(`${tag} ${t.service.name}: ${restarted.detail}`);
  if (!restarted.ok) {
    return { ok: false, checks: [{ name: 'service', ok: false, detail: restarted.detail }], reason: restarted.detail };
  }
  const deadline = Date.now() + (t.verifyTimeoutMs ?? 15_000);
  for (;;) {
    const report = verifySnapshot(t, await probeHost(t), release, sha);
    if (report.ok || Date.now() >= deadline) {
      say(`${tag} verify: ${report.checks.map((c) => `${c.name} ${c.ok ? 'ok' : `FAILED (${c.detail})`}`).join(', ')}`);
      return report;
    }
    await sleep(250);
  }
}

/** Pure: the verify checks over one snapshot. */
export function verifySnapshot(
  t: HostTarget,
  snap: HostSnapshot,
  release: string,
  sha: string | undefined,
): VerifyReport {
  const checks: { name: 'service' | 'health' | 'symlink' | 'source-sha'; ok: boolean; detail: string }[] = [];
  checks.push({
    name: 'service',
    ok: snap.serviceExit === 0,
    detail:
      snap.serviceExit === 0
        ? `${t.service.name} active`
        : `${t.service.name} not active (\`${t.service.status}\` exited ${snap.serviceExit})`,
  });
  if (snap.healthExit !== undefined) {
    checks.push({
      name: 'health',
      ok: snap.healthExit === 0,
      detail: snap.healthExit === 0 ? 'healthy' : `health command exited ${snap.healthExit}`,
    });
  }
  const target = snap.current.kind === 'symlink' ? snap.current.target : undefined;
  checks.push({
    name: 'symlink',
    ok: target === release,
    detail: target === release ? `current → ${release}` : `current → ${target ?? 'nothing'}, expected ${release}`,
  });
  const live = snap.currentSource;
  // A release no tier can place (built by other tooling, no stamp, no .git, no <sha>- name) can still be rolled
  // back to; its source SHA is then reported as not compared rather than failing every verify.
  const unplaceable = sha === undefined && (live?.sha === undefined || live.tier === 'unknown');
  const shaOk = unplaceable || (sha !== undefined && sameCommit(live?.sha, sha));
  checks.push({
    name: 'source-sha',
    ok: shaOk,
    detail: unplaceable
      ? 'no tier can tell the source SHA of this release: not compared'
      : shaOk
        ? `${live?.sha} (from ${live?.tier})`
        : `live source ${live?.sha ?? 'unknown'} (from ${live?.tier ?? 'no tier'}), expected ${sha ?? 'unknown'}`,
  });
  const bad = checks.filter((c) => !c.ok);
  return { ok: bad.length === 0, checks, reason: bad.length === 0 ? undefined : bad.map((c) => c.detail).join('; ') };
}
