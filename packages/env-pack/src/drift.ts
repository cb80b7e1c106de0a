import type { RevisionState } from '@greentic/deploy-spec';
import type { DesiredState, Drift, LivePhase, LiveStatus } from './contract';

// Which live phases agree with each store state. A revision the store calls `ready` must be running; one it
// archived must be gone; `warming` may still be starting. Anything else is drift, reported, never "fixed" here.
const AGREES: Readonly<Record<RevisionState, readonly LivePhase[]>> = {
  staged: ['absent', 'stopped'],
  warming: ['starting', 'running', 'unhealthy'],
  ready: ['running'],
  draining: ['draining', 'running', 'stopped', 'absent'],
  archived: ['absent'],
  failed: ['absent', 'stopped', 'unhealthy'],
};

/**
 * Compare what the store believes (desired) with what runs (live): one Drift per revision whose live phase does
 * not fit its state, whose worker serves another bundle digest, or that runs without the store knowing it.
 *
 * @example
 * const drifts = detectDrift(desired, await pack.status(ctx));
 * for (const d of drifts) console.log(d.message); // "revision r1 of support: store says ready, live is absent (…)"
 */
export function detectDrift(desired: DesiredState, live: LiveStatus): Drift[] {
  const out: Drift[] = [];
  const known = new Set<string>();
  for (const t of desired.targets) {
    const deployment = t.deployment.name;
    const revision = t.revision.id;
    known.add(`${deployment}/${revision}`);
    const l = live.revisions.find((r) => r.deployment === deployment && r.revision === revision);
    const observed: LivePhase = l?.phase ?? 'absent';
    const expected = t.revision.state;
    const detail = l?.detail ? ` (${l.detail})` : '';
    if (!AGREES[expected].includes(observed)) {
      out.push({
        deployment,
        revision,
        expected,
        observed,
        message: `revision ${revision} of ${deployment}: store says ${expected}, live is ${observed}${detail}`,
      });
    } else if (l?.bundleDigest !== undefined && l.bundleDigest !== t.bundle.digest && observed !== 'absent') {
      out.push({
        deployment,
        revision,
        expected,
        observed,
        message: `revision ${revision} of ${deployment}: live worker serves bundle ${l.bundleDigest}, store expects ${t.bundle.digest}`,
      });
    }
  }
  for (const l of live.revisions) {
    if (known.has(`${l.deployment}/${l.revision}`) || l.phase === 'absent' || l.phase === 'stopped') continue;
    out.push({
      deployment: l.deployment,
      revision: l.revision,
      expected: 'archived',
      observed: l.phase,
      message: `revision ${l.revision} of ${l.deployment}: live is ${l.phase} but the store does not know it`,
    });
  }
  return out;
}
