import type { Environment, PackRef, Slots } from '@greentic/deploy-spec';
import type { Versioned } from '@greentic/store-contract';
import type { CommandIO } from '../base-command';
import { CliError } from '../cli-error';
import { LOCAL_DEFAULT_SLOTS } from '../session';
import { explainConflict, hasCode, parsePairs } from './common';

/** JSON shape of one environment in `env list` / `env get`. */
export function environmentJson(e: Versioned<Environment>) {
  return { ...e.value, version: e.version };
}

function slotSummary(slots: Slots): string {
  const parts = Object.entries(slots).map(([slot, p]) => `${slot}=${(p as PackRef).id}`);
  return parts.length > 0 ? parts.join(' ') : '(no packs)';
}

export async function listEnvironments(io: CommandIO): Promise<number> {
  const s = await io.session();
  try {
    await s.environment('local', io.key); // first use creates local, and heals it
  } catch (e) {
    // A read-only token may list but not create: listing still works, without local.
    if (!hasCode(e, 'forbidden')) throw e;
  }
  const envs = await s.store.listEnvironments();
  if (io.json) {
    io.out.json({ environments: envs.map(environmentJson) });
    return 0;
  }
  io.out.table(envs, [
    { header: 'NAME', value: (e) => e.value.name },
    { header: 'PACKS', value: (e) => slotSummary(e.value.slots) },
    { header: 'CONFIG', value: (e) => String(Object.keys(e.value.config).length) + ' keys', align: 'right' },
    { header: 'VERSION', value: (e) => e.version },
  ]);
  return 0;
}

export async function getEnvironment(io: CommandIO, name: string): Promise<number> {
  const s = await io.session();
  const e = await s.environment(name, io.key);
  if (io.json) {
    io.out.json({ environment: environmentJson(e) });
    return 0;
  }
  io.out.fields([
    ['name', e.value.name],
    ['version', e.version],
    ...Object.entries(e.value.slots).map(([slot, p]) => [`slot ${slot}`, packLine(p as PackRef)] as const),
    ...Object.entries(e.value.config).map(([k, v]) => [`config ${k}`, JSON.stringify(v)] as const),
    ...Object.entries(e.value.labels ?? {}).map(([k, v]) => [`label ${k}`, v] as const),
  ]);
  return 0;
}

function packLine(p: PackRef): string {
  const cfg = Object.entries(p.config ?? {}).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return [p.id, p.version ? `@${p.version}` : '', cfg.length > 0 ? ` (${cfg.join(', ')})` : ''].join('');
}

export interface CreateEnvironmentInput {
  readonly name: string;
  readonly deployer: string | undefined;
  readonly secrets: string | undefined;
  readonly config: readonly string[];
  readonly labels: readonly string[];
}

export async function createEnvironment(io: CommandIO, input: CreateEnvironmentInput): Promise<number> {
  const s = await io.session();
  const labels = Object.fromEntries(Object.entries(parsePairs(input.labels, 'label')).map(([k, v]) => [k, String(v)]));
  const slots: Slots = {
    deployer: input.deployer ? { id: input.deployer } : { ...LOCAL_DEFAULT_SLOTS.deployer! },
    secrets: input.secrets ? { id: input.secrets } : { ...LOCAL_DEFAULT_SLOTS.secrets! },
  };
  for (const p of Object.values(slots) as PackRef[]) {
    if (!s.registry.has(p.id))
      io.out.note(`[gtc] note: env-pack ${p.id} is not installed here; commands that use it will fail until it is`);
  }
  const environment: Environment = {
    name: input.name,
    slots,
    config: parsePairs(input.config, 'config'),
    ...(Object.keys(labels).length > 0 ? { labels } : {}),
  };
  const r = await s.store
    .putEnvironment(environment, { ...s.mutation(io.key('env.create')), createOnly: true })
    .catch((e: unknown) => {
      if ((e as { code?: string }).code === 'version-conflict') {
        throw new CliError('conflict', `environment ${input.name} already exists; nothing was changed`, {
          code: 'already-exists',
          hint: `see it with: gtc op env get ${input.name}`,
          cause: e,
        });
      }
      throw e;
    });
  if (io.json)
    io.out.json({ environment: { ...r.value, version: r.version }, replayed: r.replayed, requestId: r.requestId });
  else
    io.out.line(`created environment ${input.name} (${slotSummary(r.value.slots)})${r.replayed ? ' [replayed]' : ''}`);
  return 0;
}

export async function deleteEnvironment(io: CommandIO, name: string): Promise<number> {
  const s = await io.session();
  const e = await s.store.getEnvironment(name);
  const deployments = await s.store.listDeployments(name);
  if (deployments.length > 0) {
    throw new CliError(
      'conflict',
      `environment ${name} still has ${deployments.length} deployment(s): ${deployments.map((d) => d.value.name).join(', ')}; nothing was deleted`,
      {
        code: 'has-deployments',
        hint: `archive their revisions and remove them first; list them with: gtc op deployments list --env ${name}`,
      },
    );
  }
  const r = await explainConflict(`environment ${name}`, `gtc op env delete ${name}`, () =>
    s.store.deleteEnvironment(name, s.mutation(io.key('env.delete'), e.version)),
  );
  if (io.json) io.out.json({ deleted: name, replayed: r.replayed, requestId: r.requestId });
  else io.out.line(`deleted environment ${name}`);
  return 0;
}
