import type { DesiredState, LiveStatus, PlanAction } from '@greentic/env-pack';

/**
 * Pure: the steps that would bring the live processes to what the store wants. Used for dry runs and `--check`.
 *
 * @example
 * plan(desired, live) // [{ kind: 'warm', deployment: 'support', revision: 'r2', reason: 'store says ready, no process runs' }]
 */
export function plan(desired: DesiredState, live: LiveStatus): PlanAction[] {
  const actions: PlanAction[] = [];
  const known = new Set<string>();
  for (const t of desired.targets) {
    const deployment = t.deployment.name;
    const revision = t.revision.id;
    known.add(`${deployment}/${revision}`);
    const l = live.revisions.find((r) => r.deployment === deployment && r.revision === revision);
    const phase = l?.phase ?? 'absent';
    const serving = phase === 'running' || phase === 'draining' || phase === 'starting';
    const digestDiffers = l?.bundleDigest !== undefined && l.bundleDigest !== t.bundle.digest;
    switch (t.revision.state) {
      case 'staged':
        if (!l) actions.push({ kind: 'create', deployment, revision, reason: 'store says staged, nothing applied' });
        break;
      case 'warming':
      case 'ready':
        if (!l)
          actions.push({
            kind: 'create',
            deployment,
            revision,
            reason: `store says ${t.revision.state}, nothing applied`,
          });
        if (phase === 'unhealthy' || digestDiffers) {
          actions.push({
            kind: 'restart',
            deployment,
            revision,
            reason: `live worker is ${digestDiffers ? 'serving another bundle' : 'unhealthy'}`,
          });
        } else if (!serving) {
          actions.push({
            kind: 'warm',
            deployment,
            revision,
            reason: `store says ${t.revision.state}, live is ${phase}`,
          });
        }
        break;
      case 'draining':
        if (serving && phase !== 'draining')
          actions.push({ kind: 'drain', deployment, revision, reason: 'store says draining, worker still serves' });
        break;
      case 'archived':
      case 'failed':
        if (l)
          actions.push({
            kind: 'remove',
            deployment,
            revision,
            reason: `store says ${t.revision.state}, live is ${phase}`,
          });
        break;
    }
  }
  for (const l of live.revisions) {
    if (!known.has(`${l.deployment}/${l.revision}`)) {
      actions.push({
        kind: 'remove',
        deployment: l.deployment,
        revision: l.revision,
        reason: 'not known to the store',
      });
    }
  }
  if (actions.length > 0) actions.push({ kind: 'route', reason: 'publish the runtime config for the new state' });
  return actions;
}
