import type { RevisionState } from '@greentic/deploy-spec';
import type { LivePhase, LiveRevision } from '@greentic/env-pack';
import type { CommandIO } from '../base-command';
import { type currentSplit, desiredState, percent } from './common';

/** Live phases that agree with each store state. */
const AGREES: Record<RevisionState, readonly LivePhase[]> = {
  staged: ['absent', 'stopped'],
  warming: ['starting', 'running', 'unhealthy'],
  ready: ['running'],
  draining: ['draining', 'stopped', 'absent', 'running'],
  archived: ['absent', 'stopped'],
  failed: ['absent', 'stopped', 'unhealthy'],
};

export interface StatusRow {
  readonly deployment: string;
  readonly revision: string;
  readonly state: RevisionState | 'unknown';
  readonly weight: number;
  readonly live: LivePhase;
  readonly endpoint: string | null;
  readonly drift: string | null;
}

export async function showStatus(io: CommandIO, deployment: string | undefined): Promise<number> {
  const s = await io.session();
  const bound = await s.deployer(io.environment, io.key);
  const { desired } = await desiredState(s, bound, deployment);
  const live = await io.out.spin(`asking ${bound.pack.id} what runs`, () =>
    bound.pack.status(bound.ctx, deployment ? { deployment } : undefined),
  );
  const liveByKey = new Map<string, LiveRevision>(live.revisions.map((r) => [`${r.deployment}/${r.revision}`, r]));
  const rows: StatusRow[] = [];
  const splits = new Map<string, Awaited<ReturnType<typeof currentSplit>>>();
  for (const t of desired.targets) {
    const key = `${t.deployment.name}/${t.revision.id}`;
    const l = liveByKey.get(key);
    liveByKey.delete(key);
    const phase: LivePhase = l?.phase ?? 'absent';
    const agrees = AGREES[t.revision.state].includes(phase);
    const digestDrift = l?.bundleDigest && l.bundleDigest !== t.bundle.digest && phase === 'running';
    rows.push({
      deployment: t.deployment.name,
      revision: t.revision.id,
      state: t.revision.state,
      weight: t.weight,
      live: phase,
      endpoint: l?.endpoint ?? null,
      drift: !agrees
        ? `the store says ${t.revision.state}, the live system says ${phase}${l?.detail ? ` (${l.detail})` : ''}`
        : digestDrift
          ? `the worker runs bundle ${l.bundleDigest}, the store expects ${t.bundle.digest}`
          : null,
    });
    if (!splits.has(t.deployment.name)) splits.set(t.deployment.name, { entries: [], version: undefined });
  }
  for (const [key, l] of liveByKey) {
    if (l.phase === 'absent' || l.phase === 'stopped') continue;
    rows.push({
      deployment: l.deployment,
      revision: l.revision,
      state: 'unknown',
      weight: 0,
      live: l.phase,
      endpoint: l.endpoint ?? null,
      drift: `${key} runs but the store has no such revision`,
    });
  }
  const plan = bound.pack.plan(desired, live);
  const drifted = rows.filter((r) => r.drift !== null);
  if (io.json) {
    io.out.json({
      environment: io.environment,
      deployer: bound.pack.id,
      observedAt: live.observedAt,
      revisions: rows,
      drift: drifted.length,
      plan,
    });
    return drifted.length > 0 ? 7 : 0;
  }
  io.out.line(`${io.environment} (deployer ${bound.pack.id}, observed ${live.observedAt})`);
  io.out.table(
    rows,
    [
      { header: 'DEPLOYMENT', value: (r) => r.deployment },
      { header: 'REVISION', value: (r) => r.revision },
      { header: 'STORE', value: (r) => r.state },
      { header: 'LIVE', value: (r) => r.live },
      { header: 'WEIGHT', value: (r) => percent(r.weight), align: 'right' },
      { header: 'ENDPOINT', value: (r) => r.endpoint ?? '' },
      { header: 'DRIFT', value: (r) => (r.drift ? io.out.style('red', 'drift') : io.out.style('green', 'ok')) },
    ],
    `(nothing deployed in ${io.environment})`,
  );
  if (drifted.length > 0) {
    io.out.line();
    for (const r of drifted) io.out.line(`${io.out.style('red', 'drift')} ${r.deployment}/${r.revision}: ${r.drift}`);
    if (plan.length > 0) {
      io.out.line();
      io.out.line('the deployer would converge with:');
      for (const a of plan)
        io.out.line(`  ${a.kind.padEnd(7)} ${'revision' in a ? `${a.deployment}/${a.revision}: ` : ''}${a.reason}`);
    }
  }
  return drifted.length > 0 ? 7 : 0;
}
