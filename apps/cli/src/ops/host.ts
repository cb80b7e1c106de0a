import { resolve } from 'node:path';
import type { CommandIO } from '../base-command';
import { CliError } from '../cli-error';
import type { Session } from '../session';
import { explainConflict } from './common';
import { packModule } from './pack-module';

const PACK = 'greentic.deployer.host-release';
/** Where the store keeps the recorded truth of a host (non-secret JSON in the environment's config). */
const TRUTH_KEY = 'host-release.truth';

type Fn = (...args: never[]) => Promise<unknown>;
interface HostApi {
  promote: Fn;
  rollback: Fn;
  hostStatus: Fn;
  smoke: Fn;
  parseHostDeployerConfig: (c: unknown) => Record<string, unknown>;
  hostTargetFromConfig: (c: unknown) => unknown;
  closeHostConnection: (t: unknown) => Promise<void>;
}

interface Bound {
  readonly s: Session;
  readonly api: HostApi;
  readonly target: unknown;
  readonly config: Record<string, unknown>;
}

/** The host target of the environment, from its deployer config, and the host-release package's functions. */
async function bind(io: CommandIO): Promise<Bound> {
  const s = await io.session();
  const env = await s.environment(io.environment, io.key);
  const deployer = env.value.slots.deployer;
  if (deployer?.id !== PACK) {
    throw new CliError(
      'usage',
      `environment ${io.environment} is deployed by ${deployer?.id ?? 'nothing'}; host commands need ${PACK}`,
      {
        code: 'unsupported',
        hint: `attach it with its host settings: gtc op env-packs attach ${PACK} --env ${io.environment} --config host=… --config user=… --config root=…`,
      },
    );
  }
  if (!s.registry.has(PACK)) {
    throw new CliError('not-found', `${PACK} is not installed here`, {
      code: 'unknown-pack',
      hint: 'install @greentic/deployer-host-release',
    });
  }
  const api = (await packModule(s.registry, PACK))?.mod as unknown as HostApi;
  let config: Record<string, unknown>;
  try {
    config = api.parseHostDeployerConfig(deployer.config ?? {});
  } catch (e) {
    throw new CliError('usage', `the ${PACK} config of ${io.environment} is incomplete: ${(e as Error).message}`, {
      code: 'invalid',
      hint: `set it with: gtc op env-packs attach ${PACK} --env ${io.environment} --config key=value …`,
      cause: e,
    });
  }
  return { s, api, config, target: api.hostTargetFromConfig(config) };
}

async function withHost<T>(io: CommandIO, work: (b: Bound) => Promise<T>): Promise<T> {
  const b = await bind(io);
  try {
    return await work(b);
  } finally {
    await b.api.closeHostConnection(b.target).catch(() => undefined);
  }
}

async function recordTruth(io: CommandIO, s: Session, truth: unknown, step: string): Promise<void> {
  if (!truth) return;
  const c = await s.store.getConfig(io.environment);
  const text = JSON.stringify(truth);
  if (c.value[TRUTH_KEY] === text) return;
  await explainConflict(`the config of ${io.environment}`, 'the same gtc op host command', () =>
    s.store.setConfig(io.environment, { ...c.value, [TRUTH_KEY]: text }, s.mutation(io.key(step), c.version)),
  );
}

function print(io: CommandIO, result: { lines?: readonly string[] }): void {
  if (io.json) io.out.json(result);
  else for (const l of result.lines ?? []) io.out.line(l);
}

export interface PromoteInput {
  readonly label: string;
  readonly worktree: string | undefined;
  readonly ref: string | undefined;
  readonly apply: boolean;
  readonly keep: number | undefined;
}

export async function promoteOnHost(io: CommandIO, input: PromoteInput): Promise<number> {
  return withHost(io, async ({ s, api, target, config }) => {
    const worktree = resolve(io.cwd, input.worktree ?? (typeof config.worktree === 'string' ? config.worktree : '.'));
    const r = (await api.promote(
      target as never,
      {
        worktree,
        label: input.label,
        promoter: s.actor,
        apply: input.apply,
        ...(input.ref ? { ref: input.ref } : {}),
        ...(input.keep !== undefined ? { keepReleases: input.keep } : {}),
        ...(io.json ? {} : { log: (l: string) => io.out.note(l) }),
      } as never,
    )) as { outcome: string; lines: string[]; truth?: unknown; reason?: string };
    if (input.apply) await recordTruth(io, s, r.truth, 'host.promote.truth');
    print(io, r);
    if (r.outcome === 'rolled-back') {
      io.out.note(
        `[gtc] the new release did not verify (${r.reason ?? 'see above'}); the previous one is current again`,
      );
      return 7;
    }
    return r.outcome === 'failed' ? 1 : 0;
  });
}

export async function rollbackOnHost(
  io: CommandIO,
  input: { to: string | undefined; apply: boolean },
): Promise<number> {
  return withHost(io, async ({ s, api, target }) => {
    const r = (await api.rollback(
      target as never,
      {
        apply: input.apply,
        ...(input.to ? { to: input.to } : {}),
        ...(io.json ? {} : { log: (l: string) => io.out.note(l) }),
      } as never,
    )) as { outcome: string; lines: string[]; truth?: unknown };
    if (input.apply) await recordTruth(io, s, r.truth, 'host.rollback.truth');
    print(io, r);
    return r.outcome === 'reverted' ? 7 : r.outcome === 'failed' ? 1 : 0;
  });
}

export async function statusOfHost(io: CommandIO, update: boolean): Promise<number> {
  return withHost(io, async ({ s, api, target }) => {
    const c = await s.store.getConfig(io.environment);
    const recorded = typeof c.value[TRUTH_KEY] === 'string' ? JSON.parse(c.value[TRUTH_KEY]) : undefined;
    const r = (await api.hostStatus(
      target as never,
      {
        ...(recorded ? { expected: recorded } : {}),
        update,
      } as never,
    )) as { drift: unknown[]; lines: string[]; live: unknown };
    if (update) await recordTruth(io, s, r.live, 'host.status.update');
    print(io, r);
    return r.drift.length > 0 && !update ? 7 : 0;
  });
}

export async function smokeHost(io: CommandIO, sha: string | undefined): Promise<number> {
  return withHost(io, async ({ api, target }) => {
    const r = (await api.smoke(target as never, (sha ? { expectSha: sha } : {}) as never)) as {
      ok: boolean;
      lines: string[];
    };
    print(io, r);
    return r.ok ? 0 : 7;
  });
}
