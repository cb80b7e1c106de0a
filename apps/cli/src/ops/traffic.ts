import type { TrafficEntry, TrafficSplit } from '@greentic/deploy-spec';
import { checkSplit, diffSplits, formatPercent, parseTrafficArgs, sameSplit } from '@greentic/revision-machine';
import type { CommandIO } from '../base-command';
import { CliError } from '../cli-error';
import type { Session } from '../session';
import { currentSplit, describeSplit, explainConflict, hasCode, percent, publishRoutes } from './common';

export async function getTraffic(io: CommandIO, deployment: string): Promise<number> {
  const s = await io.session();
  await s.environment(io.environment, io.key);
  await s.store.getDeployment(io.environment, deployment);
  const { entries, version } = await currentSplit(s.store, io.environment, deployment);
  if (io.json) {
    io.out.json({ environment: io.environment, deployment, entries, version: version ?? null });
    return 0;
  }
  if (entries.length === 0) {
    io.out.line(
      `${io.environment}/${deployment} has no traffic split yet; set one: gtc op traffic set ${deployment} <revision>=100`,
    );
    return 0;
  }
  io.out.table(entries, [
    { header: 'REVISION', value: (e) => e.revision },
    { header: 'SHARE', value: (e) => percent(e.weight), align: 'right' },
    { header: 'BPS', value: (e) => String(e.weight), align: 'right' },
  ]);
  return 0;
}

export async function setTraffic(io: CommandIO, deployment: string, shares: readonly string[]): Promise<number> {
  const parsed = parseTrafficArgs(shares);
  if (!parsed.ok) {
    throw new CliError('usage', `traffic for ${io.environment}/${deployment}: ${parsed.errors.join('; ')}`, {
      code: 'invalid',
      hint: `write revision=percent summing to 100, e.g. gtc op traffic set ${deployment} r7=90 r8=10`,
    });
  }
  const s = await io.session();
  const bound = await s.deployer(io.environment, io.key);
  const before = await currentSplit(s.store, io.environment, deployment);
  // Check locally first so the message names every revision at fault; the store checks again atomically.
  const revisions = await s.store.listRevisions(io.environment, deployment);
  const states = Object.fromEntries(revisions.map((r) => [r.value.id, r.value.state]));
  const check = checkSplit(parsed.entries, states, `${io.environment}/${deployment}`);
  if (!check.ok) {
    const notReady = check.errors.find((e) => e.code === 'not-ready');
    throw new CliError('conflict', check.errors.map((e) => e.message).join('; '), {
      code: check.errors[0]?.code ?? 'invalid',
      hint: notReady?.revision
        ? `warm it first: gtc op revisions warm ${deployment} ${notReady.revision}`
        : `see the revisions: gtc op revisions list ${deployment}`,
    });
  }
  const after = check.entries;
  let changed = false;
  let replayed = false;
  if (!sameSplit(before.entries, after)) {
    const split: TrafficSplit = { environment: io.environment, deployment, entries: [...after] };
    const r = await explainConflict(
      `the traffic of ${io.environment}/${deployment}`,
      `gtc op traffic set ${deployment} ${shares.join(' ')}`,
      () => s.store.setTraffic(split, s.mutation(io.key('traffic.set'), before.version)),
      async () => describeSplit((await currentSplit(s.store, io.environment, deployment)).entries),
    );
    changed = true;
    replayed = r.replayed;
  }
  await publishRoutes(s, bound);
  report(io, deployment, before.entries, after, changed, replayed);
  return 0;
}

export async function rollbackTraffic(io: CommandIO, deployment: string): Promise<number> {
  const s = await io.session();
  const bound = await s.deployer(io.environment, io.key);
  const before = await currentSplit(s.store, io.environment, deployment);
  if (!before.version) {
    throw new CliError(
      'not-found',
      `${io.environment}/${deployment} has no traffic split, so there is nothing to roll back`,
      {
        code: 'not-found',
        hint: `set one: gtc op traffic set ${deployment} <revision>=100`,
      },
    );
  }
  const r = await explainConflict(
    `the traffic of ${io.environment}/${deployment}`,
    `gtc op traffic rollback ${deployment}`,
    () => s.store.rollbackTraffic(io.environment, deployment, s.mutation(io.key('traffic.rollback'), before.version)),
  ).catch((e: unknown) => {
    if (hasCode(e, 'lifecycle-refused')) {
      const reason = (e as { details?: { reason?: { message?: string } } }).details?.reason?.message;
      throw new CliError(
        'conflict',
        `cannot roll back the traffic of ${io.environment}/${deployment}: ${reason ?? (e as Error).message}`,
        {
          code: 'lifecycle-refused',
          hint: `see the past splits: gtc op traffic history ${deployment}`,
          cause: e,
        },
      );
    }
    throw e;
  });
  await publishRoutes(s, bound);
  report(io, deployment, before.entries, r.value.entries, true, r.replayed);
  return 0;
}

function report(
  io: CommandIO,
  deployment: string,
  before: readonly TrafficEntry[],
  after: readonly TrafficEntry[],
  changed: boolean,
  replayed: boolean,
): void {
  const changes = diffSplits(before, after);
  if (io.json) {
    io.out.json({ environment: io.environment, deployment, before, after, changes, changed, replayed });
    return;
  }
  if (!changed) {
    io.out.line(`${io.environment}/${deployment} already has ${describeSplit(after)}; nothing changed`);
    return;
  }
  io.out.line(`${io.environment}/${deployment}: ${describeSplit(before)} → ${describeSplit(after)}`);
  for (const c of changes) io.out.line(`  ${c.revision}: ${formatPercent(c.from)} → ${formatPercent(c.to)}`);
}

export async function trafficHistory(io: CommandIO, deployment: string, limit: number): Promise<number> {
  const s: Session = await io.session();
  await s.environment(io.environment, io.key);
  await s.store.getDeployment(io.environment, deployment);
  const history = (await s.store.trafficHistory(io.environment, deployment)).slice(-limit).reverse();
  if (io.json) {
    io.out.json({ environment: io.environment, deployment, history });
    return 0;
  }
  io.out.table(
    history,
    [
      { header: 'SEQ', value: (h) => String(h.seq), align: 'right' },
      { header: 'AT', value: (h) => h.at },
      { header: 'ACTOR', value: (h) => h.actor },
      { header: 'SPLIT', value: (h) => describeSplit(h.entries) },
    ],
    `(no traffic changes yet in ${io.environment}/${deployment})`,
  );
  return 0;
}
