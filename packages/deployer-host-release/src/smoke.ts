import { currentRelease, probeHost } from './host-probe';
import { checkRoot, releasesDir } from './release-names';
import { describeHost, type HostTarget, PACK_ID } from './ssh-transport';

export interface SmokeCheck {
  readonly name: string;
  readonly ok: boolean;
  /** `warn` checks report but do not fail the smoke run (e.g. no rollback target after a first promotion). */
  readonly severity: 'fail' | 'warn';
  readonly detail: string;
}

export interface SmokeReport {
  readonly host: string;
  readonly ok: boolean;
  readonly checks: readonly SmokeCheck[];
  readonly lines: readonly string[];
}

/**
 * Read-only post-promote checks (seed 002 `smoke-agent`): `current` is a symlink to an existing release under
 * `releases/`, the release is stamped and its tiers agree, it is not marked failed, it is the expected commit
 * (when given), the service is active and healthy, a rollback target is recorded and exists, and no staging
 * leftovers lie around. Changes nothing.
 *
 * @example
 * const r = await smoke(host, { expectSha: sha }); if (!r.ok) process.exitCode = 1;
 */
export async function smoke(t: HostTarget, opts: { readonly expectSha?: string } = {}): Promise<SmokeReport> {
  checkRoot(t.root);
  const snap = await probeHost(t);
  const checks: SmokeCheck[] = [];
  const add = (name: string, ok: boolean, detail: string, severity: 'fail' | 'warn' = 'fail') =>
    checks.push({ name, ok, severity, detail });
  const cur = currentRelease(snap);
  const c = snap.current;
  add(
    'current-symlink',
    c.kind === 'symlink' && c.exists,
    c.kind === 'symlink'
      ? c.exists
        ? `current → ${c.target}`
        : `current → ${c.target}, which does not exist`
      : `current is ${c.kind}`,
  );
  add(
    'current-in-releases',
    cur !== undefined,
    cur
      ? `${cur.name} is a release under ${releasesDir(t.root)}`
      : `current does not point at a directory directly under ${releasesDir(t.root)}`,
  );
  add(
    'stamped',
    typeof cur?.stamp?.sha === 'string',
    typeof cur?.stamp?.sha === 'string'
      ? `.release.json names ${cur.stamp.sha}`
      : 'no readable .release.json in the current release',
  );
  const src = snap.currentSource;
  add(
    'tiers-agree',
    src !== undefined && src.sha !== undefined && src.disagreements.length === 0,
    src?.sha === undefined
      ? 'no tier could tell the source SHA'
      : src.disagreements.length === 0
        ? `${src.sha} (from ${src.tier}; no tier disagrees)`
        : `${src.tier} says ${src.sha} but ${src.disagreements.map((d) => `${d.tier} says ${d.sha}`).join(', ')}`,
  );
  add(
    'not-failed',
    cur !== undefined && !cur.failed,
    cur?.failed ? `marked failed: ${cur.failedReason}` : 'not marked failed',
  );
  if (opts.expectSha !== undefined) {
    const ok = src?.sha !== undefined && (src.sha.startsWith(opts.expectSha) || opts.expectSha.startsWith(src.sha));
    add(
      'expected-sha',
      ok,
      ok ? `runs ${opts.expectSha}` : `runs ${src?.sha ?? 'unknown'}, expected ${opts.expectSha}`,
    );
  }
  add(
    'service-active',
    snap.serviceExit === 0,
    snap.serviceExit === 0 ? `${t.service.name} active` : `\`${t.service.status}\` exited ${snap.serviceExit}`,
  );
  if (snap.healthExit !== undefined) {
    add(
      'health',
      snap.healthExit === 0,
      snap.healthExit === 0 ? 'health command passed' : `\`${t.service.health}\` exited ${snap.healthExit}`,
    );
  }
  const rb = snap.rollbackTarget;
  const rbRelease = rb === undefined ? undefined : snap.releases.find((r) => r.path === rb);
  add(
    'rollback-ready',
    rbRelease !== undefined && !rbRelease.failed,
    rb === undefined
      ? 'no rollback target recorded (first promotion?)'
      : rbRelease
        ? `rollback target ${rb}`
        : `rollback target ${rb} does not exist`,
    'warn',
  );
  add(
    'no-leftovers',
    snap.leftovers.length === 0,
    snap.leftovers.length === 0
      ? 'no staging leftovers'
      : `leftovers: ${snap.leftovers.map((l) => l.path).join(', ')} (prune removes them)`,
    'warn',
  );
  const ok = checks.every((k) => k.ok || k.severity === 'warn');
  const lines = [
    `[${PACK_ID}] smoke ${describeHost(t)}:${t.root}: ${ok ? 'PASSED' : 'FAILED'}`,
    ...checks.map((k) => `  ${k.ok ? 'ok  ' : k.severity === 'warn' ? 'warn' : 'FAIL'}  ${k.name}: ${k.detail}`),
  ];
  return { host: describeHost(t), ok, checks, lines };
}
