import { existsSync } from 'node:fs';
import type { ConfigMap, Revision } from '@greentic/deploy-spec';
import { formatPercent } from '@greentic/revision-machine';
import type { Versioned } from '@greentic/store-contract';
import type { CommandIO } from '../base-command';
import { CliError } from '../cli-error';
import type { BoundDeployer, Session } from '../session';
import { bundleFilesDir, newestBundle } from './bundles';
import {
  currentSplit,
  explainConflict,
  hasCode,
  percent,
  publishRoutes,
  readOptional,
  revisionLabel,
  revisionTarget,
} from './common';

export interface StageInput {
  readonly deployment: string;
  readonly bundleVersion: string | undefined;
  readonly id: string | undefined;
}

/** The next free `rN` id of a deployment. */
export function nextRevisionId(existing: readonly string[]): string {
  let max = 0;
  for (const id of existing) {
    const m = /^r(\d+)$/.exec(id);
    if (m) max = Math.max(max, Number(m[1]));
  }
  return `r${max + 1}`;
}

export async function stageRevision(io: CommandIO, input: StageInput): Promise<number> {
  const s = await io.session();
  const env = await s.environment(io.environment, io.key);
  const deployment = await s.store.getDeployment(io.environment, input.deployment);
  const bundleId = deployment.value.bundleId;
  let version = input.bundleVersion;
  if (!version) {
    const newest = newestBundle((await s.store.listBundles({ id: bundleId })).map((b) => b.value));
    if (!newest) {
      throw new CliError(
        'not-found',
        `no version of bundle ${bundleId} is published, so ${io.environment}/${input.deployment} has nothing to stage`,
        {
          code: 'not-found',
          hint: 'publish one first: gtc op bundles publish <folder>',
        },
      );
    }
    version = newest.version;
  }
  const bundle = (await s.store.getBundle(bundleId, version)).value;
  const existing = await s.store.listRevisions(io.environment, input.deployment);
  // The same bundle staged again under the same step key is a retry; a new id otherwise.
  const id = input.id ?? nextRevisionId(existing.map((r) => r.value.id));
  // Finalize every slot's pack config now: a revision is an immutable snapshot.
  const packConfig: Record<string, ConfigMap> = {};
  for (const ref of Object.values(env.value.slots)) if (ref) packConfig[ref.id] = { ...(ref.config ?? {}) };
  const files = bundleFilesDir(s.home, bundle.id, bundle.version);
  const deployerId = env.value.slots.deployer?.id;
  if (deployerId && existsSync(files)) packConfig[deployerId] = { ...packConfig[deployerId], bundleDir: files };
  const secretRefs = [...bundle.secrets];
  const r = await s.store
    .stageRevision(
      {
        environment: io.environment,
        deployment: input.deployment,
        id,
        bundle: { id: bundle.id, version: bundle.version, digest: bundle.digest },
        packConfig,
        secretRefs,
      },
      { ...s.mutation(io.key(`revision.stage.${id}`)), createOnly: true },
    )
    .catch((e: unknown) => {
      if (hasCode(e, 'version-conflict')) {
        throw new CliError(
          'conflict',
          `revision ${revisionLabel(io.environment, input.deployment, id)} already exists; revisions never change`,
          {
            code: 'already-exists',
            hint: `stage under another id: gtc op revisions stage ${input.deployment} --id ${nextRevisionId(existing.map((x) => x.value.id))}`,
            cause: e,
          },
        );
      }
      throw e;
    });
  if (io.json) io.out.json({ revision: r.value, version: r.version, replayed: r.replayed });
  else {
    io.out.line(
      `staged ${revisionLabel(io.environment, input.deployment, r.value.id)} from ${bundle.id}@${bundle.version}`,
    );
    io.out.note(`[gtc] next: gtc op revisions warm ${input.deployment} ${r.value.id}${envFlag(io)}`);
  }
  return 0;
}

function envFlag(io: CommandIO): string {
  return io.environment === 'local' ? '' : ` --env ${io.environment}`;
}

type Move = 'warm' | 'drain' | 'archive';

/**
 * Move a revision through its lifecycle: the store decides and records (revision-machine rules, one
 * transaction), the environment's deployer does the work, and the router gets the new runtime config.
 */
export async function moveRevision(
  io: CommandIO,
  move: Move,
  deployment: string,
  revisionId: string,
  timeoutSeconds: number,
): Promise<number> {
  const s = await io.session();
  const bound = await s.deployer(io.environment, io.key);
  const label = revisionLabel(io.environment, deployment, revisionId);
  const read = await s.store.getRevision(io.environment, deployment, revisionId);
  const result =
    move === 'warm'
      ? await warm(io, s, bound, read, timeoutSeconds)
      : move === 'drain'
        ? await drain(io, s, bound, read, timeoutSeconds)
        : await archive(io, s, bound, read);
  await publishRoutes(s, bound);
  if (io.json)
    io.out.json({
      revision: result.revision,
      changed: result.changed,
      ...(result.endpoint ? { endpoint: result.endpoint } : {}),
    });
  else
    io.out.line(
      result.changed ? `${label}: ${result.message}` : `${label} is already ${result.revision.state}; nothing to do`,
    );
  return 0;
}

interface MoveResult {
  readonly revision: Revision;
  readonly changed: boolean;
  readonly message: string;
  readonly endpoint?: string;
}

export async function warm(
  io: CommandIO,
  s: Session,
  bound: BoundDeployer,
  read: Versioned<Revision>,
  timeoutSeconds: number,
): Promise<MoveResult> {
  const { environment, deployment, id } = read.value;
  const label = revisionLabel(environment, deployment, id);
  let current = read;
  if (current.value.state === 'ready') {
    // Idempotent, and it re-checks that the worker still runs (it may have died behind our back).
    const target = await revisionTarget(s.store, environment, deployment, current.value);
    await bound.pack.apply(bound.ctx, target);
    await bound.pack.warm(bound.ctx, target, { timeoutMs: timeoutSeconds * 1000 });
    return { revision: current.value, changed: false, message: '' };
  }
  if (current.value.state === 'staged') {
    const r = await explainConflict(`revision ${label}`, `gtc op revisions warm ${deployment} ${id}`, () =>
      s.store.transitionRevision(
        environment,
        deployment,
        id,
        'warm',
        s.mutation(io.key('revision.warm'), current.version),
      ),
    );
    current = { value: r.value, version: r.version ?? current.version };
  } else if (current.value.state !== 'warming') {
    throw lifecycleError(current.value, 'warm', deployment);
  }
  const target = await revisionTarget(s.store, environment, deployment, current.value);
  try {
    await bound.pack.apply(bound.ctx, target);
    const warmed = await io.out.spin(`warming ${label} until its health check passes`, () =>
      bound.pack.warm(bound.ctx, target, { timeoutMs: timeoutSeconds * 1000 }),
    );
    const r = await s.store.transitionRevision(environment, deployment, id, 'mark-ready', {
      ...s.mutation(io.key('revision.mark-ready'), current.version),
      health: warmed.health,
    });
    return { revision: r.value, changed: true, message: `ready at ${warmed.endpoint}`, endpoint: warmed.endpoint };
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    if (hasCode(e, 'unhealthy') || hasCode(e, 'timeout') || hasCode(e, 'unsupported') || hasCode(e, 'refused')) {
      const fresh = await s.store.getRevision(environment, deployment, id);
      if (fresh.value.state === 'warming') {
        await s.store.transitionRevision(environment, deployment, id, 'fail', {
          ...s.mutation(io.key('revision.fail'), fresh.version),
          failureReason: reason.slice(0, 4000),
        });
      }
      throw new CliError(hasCode(e, 'timeout') ? 'unavailable' : 'check-failed', `${label} failed to warm: ${reason}`, {
        code: (e as { code: string }).code,
        hint: `it is now failed; fix the bundle, stage a new revision and warm that (archive this one: gtc op revisions archive ${deployment} ${id})`,
        cause: e,
      });
    }
    throw e;
  }
}

async function drain(
  io: CommandIO,
  s: Session,
  bound: BoundDeployer,
  read: Versioned<Revision>,
  timeoutSeconds: number,
): Promise<MoveResult> {
  const { environment, deployment, id } = read.value;
  const label = revisionLabel(environment, deployment, id);
  await refuseWhileHoldingTraffic(s, read.value, 'drain');
  let current = read;
  let changed = false;
  if (current.value.state === 'ready') {
    const r = await explainConflict(`revision ${label}`, `gtc op revisions drain ${deployment} ${id}`, () =>
      s.store.transitionRevision(
        environment,
        deployment,
        id,
        'drain',
        s.mutation(io.key('revision.drain'), current.version),
      ),
    );
    current = { value: r.value, version: r.version ?? current.version };
    changed = true;
  } else if (current.value.state !== 'draining') {
    throw lifecycleError(current.value, 'drain', deployment);
  }
  // Routes first, so the router stops sending new sessions before the worker goes.
  await publishRoutes(s, bound);
  const target = await revisionTarget(s.store, environment, deployment, current.value);
  await io.out.spin(`draining ${label} until its in-flight work ends`, () =>
    bound.pack.drain(bound.ctx, target, { timeoutMs: timeoutSeconds * 1000 }),
  );
  return {
    revision: current.value,
    changed,
    message: `drained; archive it with: gtc op revisions archive ${deployment} ${id}`,
  };
}

async function archive(
  io: CommandIO,
  s: Session,
  bound: BoundDeployer,
  read: Versioned<Revision>,
): Promise<MoveResult> {
  const { environment, deployment, id } = read.value;
  const label = revisionLabel(environment, deployment, id);
  let current = read;
  let changed = false;
  if (current.value.state !== 'archived') {
    await refuseWhileHoldingTraffic(s, current.value, 'archive');
    if (!['draining', 'failed', 'staged'].includes(current.value.state))
      throw lifecycleError(current.value, 'archive', deployment);
    const r = await explainConflict(`revision ${label}`, `gtc op revisions archive ${deployment} ${id}`, () =>
      s.store.transitionRevision(
        environment,
        deployment,
        id,
        'archive',
        s.mutation(io.key('revision.archive'), current.version),
      ),
    );
    current = { value: r.value, version: r.version ?? current.version };
    changed = true;
  }
  // Idempotent: an archived revision's leftovers are removed again.
  const target = await revisionTarget(s.store, environment, deployment, current.value);
  await bound.pack.archive(bound.ctx, target);
  return { revision: current.value, changed, message: 'archived; everything left of it was removed' };
}

/** The operator's next step when a revision holds traffic: give its share to the other revisions. */
async function refuseWhileHoldingTraffic(s: Session, revision: Revision, action: 'drain' | 'archive'): Promise<void> {
  const { environment, deployment, id } = revision;
  const { entries } = await currentSplit(s.store, environment, deployment);
  const weight = entries.find((e) => e.revision === id)?.weight ?? 0;
  if (weight === 0) return;
  const others = entries.filter((e) => e.revision !== id && e.weight > 0);
  let suggestion: string;
  if (others.length > 0) {
    const top = [...others].sort((a, b) => b.weight - a.weight)[0]!;
    suggestion = `${top.revision}=100`;
  } else {
    const revisions = await s.store.listRevisions(environment, deployment);
    const ready = revisions.filter((r) => r.value.state === 'ready' && r.value.id !== id).map((r) => r.value.id);
    suggestion = ready.length > 0 ? `${ready.at(-1)}=100` : '<another ready revision>=100';
  }
  const envFlag = environment === 'local' ? '' : ` --env ${environment}`;
  throw new CliError(
    'conflict',
    `revision ${id} of ${environment}/${deployment} holds ${formatPercent(weight)} of traffic; it cannot be ${action === 'drain' ? 'drained' : 'archived'} while it does`,
    {
      code: 'holds-traffic',
      hint: `move its traffic first: gtc op traffic set ${deployment} ${suggestion}${envFlag}`,
      details: { revision: id, weight },
    },
  );
}

function lifecycleError(revision: Revision, action: Move, deployment: string): CliError {
  const label = revisionLabel(revision.environment, revision.deployment, revision.id);
  const next: Record<string, string> = {
    staged: `warm it: gtc op revisions warm ${deployment} ${revision.id}`,
    warming: `wait for the warm to finish, or warm it again: gtc op revisions warm ${deployment} ${revision.id}`,
    ready: `drain it first: gtc op revisions drain ${deployment} ${revision.id}`,
    draining: `archive it: gtc op revisions archive ${deployment} ${revision.id}`,
    failed: `archive it and stage a new one: gtc op revisions archive ${deployment} ${revision.id}`,
    archived: `stage a new revision: gtc op revisions stage ${deployment}`,
  };
  return new CliError(
    'conflict',
    `revision ${label} is ${revision.state}; it cannot be ${action === 'warm' ? 'warmed' : action === 'drain' ? 'drained' : 'archived'} from there`,
    {
      code: 'lifecycle-refused',
      hint: next[revision.state] ?? `see it with: gtc op revisions get ${deployment} ${revision.id}`,
    },
  );
}

export async function listRevisions(io: CommandIO, deployment: string): Promise<number> {
  const s = await io.session();
  await s.environment(io.environment, io.key);
  const revisions = await s.store.listRevisions(io.environment, deployment);
  const { entries } = await currentSplit(s.store, io.environment, deployment);
  const weight = (id: string) => entries.find((e) => e.revision === id)?.weight ?? 0;
  if (io.json) {
    io.out.json({
      environment: io.environment,
      deployment,
      revisions: revisions.map((r) => ({ ...r.value, version: r.version, weight: weight(r.value.id) })),
    });
    return 0;
  }
  io.out.table(
    revisions,
    [
      { header: 'REVISION', value: (r) => r.value.id },
      { header: 'STATE', value: (r) => r.value.state },
      { header: 'WEIGHT', value: (r) => percent(weight(r.value.id)), align: 'right' },
      { header: 'BUNDLE', value: (r) => `${r.value.bundle.id}@${r.value.bundle.version}` },
      { header: 'CREATED', value: (r) => r.value.createdAt },
    ],
    `(no revisions: gtc op revisions stage ${deployment})`,
  );
  return 0;
}

export async function getRevision(io: CommandIO, deployment: string, id: string): Promise<number> {
  const s = await io.session();
  await s.environment(io.environment, io.key);
  const r = await s.store.getRevision(io.environment, deployment, id);
  const split = await readOptional(() => s.store.getTraffic(io.environment, deployment));
  const weight = split?.value.entries.find((e) => e.revision === id)?.weight ?? 0;
  if (io.json) {
    io.out.json({ revision: { ...r.value, version: r.version, weight } });
    return 0;
  }
  io.out.fields([
    ['revision', revisionLabel(io.environment, deployment, id)],
    ['state', r.value.state],
    ['weight', percent(weight)],
    ['bundle', `${r.value.bundle.id}@${r.value.bundle.version} (${r.value.bundle.digest})`],
    ['created', r.value.createdAt],
    ['secrets', r.value.secretRefs.join(', ') || '(none)'],
    ...(r.value.health
      ? [['health', `${r.value.health.passed ? 'passed' : 'failed'} at ${r.value.health.checkedAt}`] as const]
      : []),
    ...(r.value.failureReason ? [['failure', r.value.failureReason] as const] : []),
    ['version', r.version],
  ]);
  return 0;
}
