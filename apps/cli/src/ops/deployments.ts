import type { CommandIO } from '../base-command';
import { CliError } from '../cli-error';
import { currentSplit, describeSplit, hasCode, percent } from './common';

export interface CreateDeploymentInput {
  readonly name: string;
  readonly bundleId: string;
  readonly tenant: string;
  readonly billingCustomer: string;
}

export async function createDeployment(io: CommandIO, input: CreateDeploymentInput): Promise<number> {
  const s = await io.session();
  await s.environment(io.environment, io.key);
  const deployment = { environment: io.environment, ...input };
  const published = await s.store.listBundles({ id: input.bundleId });
  if (published.length === 0) {
    io.out.note(
      `[gtc] note: no version of bundle ${input.bundleId} is published yet; publish one before staging a revision`,
    );
  }
  try {
    const r = await s.store.createDeployment(deployment, {
      ...s.mutation(io.key('deployment.create')),
      createOnly: true,
    });
    if (io.json) io.out.json({ deployment: r.value, version: r.version, replayed: r.replayed });
    else
      io.out.line(`created deployment ${io.environment}/${input.name} of ${input.bundleId} for tenant ${input.tenant}`);
    return 0;
  } catch (e) {
    if (!hasCode(e, 'version-conflict')) throw e;
    const existing = await s.store.getDeployment(io.environment, input.name);
    const same =
      existing.value.bundleId === input.bundleId &&
      existing.value.tenant === input.tenant &&
      existing.value.billingCustomer === input.billingCustomer;
    if (!same) {
      throw new CliError(
        'conflict',
        `deployment ${io.environment}/${input.name} already exists for bundle ${existing.value.bundleId}, tenant ${existing.value.tenant}; nothing was changed`,
        {
          code: 'already-exists',
          hint: `choose another name, or see it with: gtc op deployments get ${input.name} --env ${io.environment}`,
        },
      );
    }
    if (io.json)
      io.out.json({ deployment: existing.value, version: existing.version, replayed: false, unchanged: true });
    else io.out.line(`deployment ${io.environment}/${input.name} already exists as asked; nothing to do`);
    return 0;
  }
}

export async function listDeployments(io: CommandIO): Promise<number> {
  const s = await io.session();
  await s.environment(io.environment, io.key);
  const deployments = await s.store.listDeployments(io.environment);
  const rows = await Promise.all(
    deployments.map(async (d) => ({
      ...d.value,
      version: d.version,
      traffic: (await currentSplit(s.store, io.environment, d.value.name)).entries,
    })),
  );
  if (io.json) {
    io.out.json({ environment: io.environment, deployments: rows });
    return 0;
  }
  io.out.table(rows, [
    { header: 'DEPLOYMENT', value: (d) => d.name },
    { header: 'BUNDLE', value: (d) => d.bundleId },
    { header: 'TENANT', value: (d) => d.tenant },
    { header: 'BILLING', value: (d) => d.billingCustomer },
    { header: 'TRAFFIC', value: (d) => describeSplit(d.traffic) },
  ]);
  return 0;
}

export async function getDeployment(io: CommandIO, name: string): Promise<number> {
  const s = await io.session();
  await s.environment(io.environment, io.key);
  const d = await s.store.getDeployment(io.environment, name);
  const revisions = await s.store.listRevisions(io.environment, name);
  const { entries } = await currentSplit(s.store, io.environment, name);
  if (io.json) {
    io.out.json({
      deployment: { ...d.value, version: d.version },
      revisions: revisions.map((r) => ({ ...r.value, version: r.version })),
      traffic: entries,
    });
    return 0;
  }
  io.out.fields([
    ['deployment', `${io.environment}/${name}`],
    ['bundle', d.value.bundleId],
    ['tenant', d.value.tenant],
    ['billing', d.value.billingCustomer],
    ['traffic', describeSplit(entries)],
  ]);
  io.out.line();
  io.out.table(
    revisions,
    [
      { header: 'REVISION', value: (r) => r.value.id },
      { header: 'STATE', value: (r) => r.value.state },
      {
        header: 'WEIGHT',
        value: (r) => percent(entries.find((e) => e.revision === r.value.id)?.weight ?? 0),
        align: 'right',
      },
      { header: 'BUNDLE', value: (r) => `${r.value.bundle.id}@${r.value.bundle.version}` },
    ],
    '(no revisions yet: gtc op revisions stage ' + name + ')',
  );
  return 0;
}
