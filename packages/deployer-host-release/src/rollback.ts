import { posix } from 'node:path';
import { EnvPackError } from '@greentic/env-pack';
import { withHostLock } from './host-lock';
import { probeHost } from './host-probe';
import { restartAndVerify, type VerifyReport } from './promote';
import { checkRoot, releasesDir } from './release-names';
import { flipCurrent, markFailed, writeTruthMarker } from './release-steps';
import { describeHost, type HostTarget, PACK_ID } from './ssh-transport';
import { type TruthRecord, truthFromSnapshot } from './truth-record';

export interface RollbackOptions {
  /** A release directory name under `<root>/releases`, or its absolute path. Default: the recorded rollback target. */
  readonly to?: string;
  /** Do it. Without it, the result is the plan and nothing changes. */
  readonly apply?: boolean;
  readonly log?: (line: string) => void;
}

export interface RollbackPlan {
  readonly host: string;
  readonly from: string | undefined;
  readonly to: string;
  /** Where `to` came from: the recorded `.rollback-target` or the caller. */
  readonly chosenBy: 'recorded' | 'named';
  readonly sha: string | undefined;
  readonly symlink: string;
  readonly service: { readonly name: string; readonly restart: string; readonly status: string };
}

export interface RollbackResult {
  readonly outcome: 'dry-run' | 'rolled-back' | 'already-current' | 'reverted' | 'failed';
  readonly plan: RollbackPlan;
  readonly lines: readonly string[];
  readonly verify?: VerifyReport;
  /** Why the rollback did not stick (outcome reverted: current went back to where it was). */
  readonly reason?: string;
  readonly truth?: TruthRecord;
}

const tag = `[${PACK_ID}]`;

/**
 * Roll a host back to the recorded previous release, or to a named release directory: the same atomic flip,
 * restart and verify as promote. Dry run unless `apply: true`. A release marked failed is refused. If the rolled-back
 * release does not verify, it is marked failed and `current` returns to where it was (`outcome: 'reverted'`).
 *
 * @example
 * const plan = await rollback(host, {});            // what would happen
 * const done = await rollback(host, { apply: true }); // to the recorded target
 * const named = await rollback(host, { to: 'a1b2…-v1', apply: true });
 */
export async function rollback(t: HostTarget, opts: RollbackOptions = {}): Promise<RollbackResult> {
  checkRoot(t.root);
  if (opts.apply === true)
    return withHostLock(t, `rollback${opts.to ? ` to ${opts.to}` : ''}`, () => rollbackOn(t, opts));
  return rollbackOn(t, opts);
}

async function rollbackOn(t: HostTarget, opts: RollbackOptions): Promise<RollbackResult> {
  const snap = await probeHost(t);
  const rels = releasesDir(t.root);
  const available = snap.releases.map((r) => r.name).join(', ') || '(none)';
  let to: string;
  let chosenBy: 'recorded' | 'named';
  if (opts.to !== undefined) {
    to = opts.to.startsWith('/') ? posix.normalize(opts.to) : posix.join(rels, opts.to);
    chosenBy = 'named';
    if (posix.dirname(to) !== rels) {
      throw new EnvPackError(
        'refused',
        `rollback target ${opts.to} is not a release directory under ${rels}; releases: ${available}`,
        { pack: PACK_ID },
      );
    }
  } else {
    if (!snap.rollbackTarget) {
      throw new EnvPackError(
        'not-found',
        `no rollback target is recorded on ${describeHost(t)} (${t.root}/.rollback-target); name one with --to <release>; releases: ${available}`,
        { pack: PACK_ID },
      );
    }
    to = snap.rollbackTarget;
    chosenBy = 'recorded';
  }
  const release = snap.releases.find((r) => r.path === to);
  if (!release) {
    throw new EnvPackError('not-found', `release ${to} does not exist on ${describeHost(t)}; releases: ${available}`, {
      pack: PACK_ID,
    });
  }
  if (release.failed) {
    throw new EnvPackError(
      'refused',
      `release ${release.name} is marked failed (${release.failedReason ?? 'verify failed'}): it is not a good rollback target; releases: ${available}`,
      { pack: PACK_ID },
    );
  }
  if (snap.current.kind === 'not-a-symlink') {
    throw new EnvPackError(
      'conflict',
      `${t.root}/current on ${describeHost(t)} is not a symlink: refusing to replace it; nothing was changed`,
      { pack: PACK_ID },
    );
  }
  const from = snap.current.kind === 'symlink' ? snap.current.target : undefined;
  const plan: RollbackPlan = {
    host: describeHost(t),
    from,
    to,
    chosenBy,
    sha: release.source.sha,
    symlink: posix.join(t.root, 'current'),
    service: { name: t.service.name, restart: t.service.restart, status: t.service.status },
  };
  const lines = [
    `${tag} rollback ${opts.apply === true ? '(applying)' : '(dry run: nothing will change; pass --apply / apply: true to do it)'}`,
    `  host:      ${plan.host}`,
    `  release:   ${to} (${chosenBy === 'recorded' ? 'the recorded rollback target' : 'named'}; source ${plan.sha ?? 'unknown'} from ${release.source.tier})`,
    `  symlink:   ${plan.symlink} → ${to} (was ${from ?? 'absent'})`,
    `  service:   ${t.service.name}: restart \`${t.service.restart}\`; verify \`${t.service.status}\`, symlink, source SHA`,
  ];
  const say = (l: string) => {
    lines.push(l);
    opts.log?.(l);
  };
  if (opts.log) for (const l of lines) opts.log(l);
  if (opts.apply !== true) return { outcome: 'dry-run', plan, lines };
  if (from === to && snap.serviceExit === 0) {
    say(`${tag} ${to} is already current and the service is active; nothing to do`);
    return { outcome: 'already-current', plan, lines, truth: truthFromSnapshot(t, snap) };
  }
  const fromRelease = snap.releases.find((r) => r.path === from);
  // The release we leave becomes the rollback target (so a rollback can itself be undone), unless it is failed.
  const nextRecord = from && from !== to && fromRelease && !fromRelease.failed ? from : '-';
  await flipCurrent(t, { to, expect: snap.current.kind === 'symlink' ? snap.current.link : '', rollback: nextRecord });
  say(`${tag} ${plan.symlink} → ${to}`);
  const verify = await restartAndVerify(t, to, release.source.sha, say);
  if (verify.ok) {
    const truth = truthFromSnapshot(t, await probeHost(t));
    await writeTruthMarker(t, JSON.stringify(truth));
    say(`${tag} rolled back to ${release.name} on ${plan.host}`);
    return { outcome: 'rolled-back', plan, lines, verify, truth };
  }
  const reason = `verify of ${release.name} failed: ${verify.reason}`;
  const unmarked = await markFailed(t, release.name, verify.reason ?? 'verify failed');
  if (unmarked)
    say(`${tag} WARNING: ${release.name} may not be marked failed (${unmarked}); do not roll back to it again`);
  await flipCurrent(t, {
    to: snap.current.kind === 'symlink' ? snap.current.link : '',
    expect: to,
    rollback: snap.rollbackTarget ?? '',
    restore: true,
  });
  let back: VerifyReport | undefined;
  if (from) back = await restartAndVerify(t, from, fromRelease?.source.sha ?? snap.currentSource?.sha, say);
  const ok = from === undefined || back?.ok === true;
  say(`${tag} ${reason}; current ${ok ? 'returned' : 'returned but DID NOT VERIFY'} to ${from ?? '(absent)'}`);
  return {
    outcome: ok ? 'reverted' : 'failed',
    plan,
    lines,
    verify,
    reason,
    truth: truthFromSnapshot(t, await probeHost(t)),
  };
}
