import { mkdirSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Environment, PackRef, Slot } from '@greentic/deploy-spec';
import {
  createPackRegistry,
  type DeployerPack,
  type PackContext,
  type PackRegistry,
  type SecretResolver,
  type SecretsPack,
} from '@greentic/env-pack';
import type { GreenticStore, MutationOptions, Versioned } from '@greentic/store-contract';
import { CliError } from './cli-error';

/** The packs the `local` environment gets on first use, and gets back when a slot goes missing. */
export const LOCAL_DEFAULT_SLOTS: Readonly<Partial<Record<Slot, PackRef>>> = {
  deployer: { id: 'greentic.deployer.local-process' },
  secrets: { id: 'greentic.secrets.file' },
};

export interface SessionOptions {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly storeUrl?: string | undefined;
  readonly home?: string | undefined;
  /** Where "what I repaired" notices go (stderr). */
  readonly notice: (line: string) => void;
  /** Progress lines from packs (stderr). */
  readonly log?: (line: string) => void;
}

/** A deployer pack bound to one environment: the pack, the context it runs with, and the environment read. */
export interface BoundDeployer {
  readonly pack: DeployerPack;
  readonly ctx: PackContext;
  readonly environment: Versioned<Environment>;
}

export interface BoundSecrets {
  readonly pack: SecretsPack;
  readonly ctx: PackContext;
  readonly environment: Versioned<Environment>;
}

/**
 * One command's view of the world: the store (local SQLite file or remote server), who is acting, the env-pack
 * registry, and the folder where packs keep their state for each environment.
 */
export interface Session {
  readonly store: GreenticStore;
  readonly actor: string;
  readonly remote: boolean;
  /** Where the local store and pack state live ($GREENTIC_HOME, else ~/.greentic). */
  readonly home: string;
  readonly registry: PackRegistry;
  /** Mutation options for one step: actor, idempotency key, and the version read (absent only on create). */
  mutation(key: string, expectedVersion?: string): MutationOptions;
  /**
   * Read an environment; `local` is created on first use with the default packs and healed when a default slot
   * is empty (each repair is printed).
   */
  environment(name: string, key: (step: string) => string): Promise<Versioned<Environment>>;
  /** The environment's deployer pack, resolved through the registry, with its context. */
  deployer(name: string, key: (step: string) => string): Promise<BoundDeployer>;
  /** The environment's secrets pack, resolved through the registry, with its context. */
  secrets(name: string, key: (step: string) => string): Promise<BoundSecrets>;
  /** The folder a pack owns for an environment. */
  stateDir(environment: string, packId: string): string;
  close(): Promise<void>;
}

/**
 * Open the store the options point at and the pack registry.
 *
 * Local: `<home>/store.db` (SQLite through @greentic/store-sql). Remote: `--store-url` or `$GREENTIC_STORE_URL`
 * with `$GREENTIC_TOKEN` (HTTP client of @greentic/store-contract).
 *
 * @example
 * const session = await openSession({ env: process.env, cwd: process.cwd(), notice: console.error });
 * const envs = await session.store.listEnvironments();
 * await session.close();
 */
export async function openSession(options: SessionOptions): Promise<Session> {
  const { env } = options;
  const home = resolve(options.cwd, options.home ?? env.GREENTIC_HOME ?? join(homedir(), '.greentic'));
  const storeUrl = options.storeUrl ?? (env.GREENTIC_STORE_URL || undefined);
  const actor = env.GREENTIC_ACTOR ?? defaultActor();
  const store = storeUrl ? await openRemote(storeUrl, env.GREENTIC_TOKEN) : await openLocal(home, options.notice);
  const registry = createPackRegistry({ searchFrom: cliPackageDir(), packageDirs: extraPackDirs(env) });
  const packs: (DeployerPack | SecretsPack)[] = [];

  const mutation = (key: string, expectedVersion?: string): MutationOptions => ({
    actor,
    idempotencyKey: key,
    ...(expectedVersion ? { expectedVersion } : {}),
  });

  async function environment(name: string, key: (step: string) => string): Promise<Versioned<Environment>> {
    if (name !== 'local') return store.getEnvironment(name);
    let current: Versioned<Environment>;
    try {
      current = await store.getEnvironment(name);
    } catch (e) {
      if ((e as { code?: string }).code !== 'not-found') throw e;
      const created = await store
        .putEnvironment(
          { name: 'local', slots: { ...LOCAL_DEFAULT_SLOTS }, config: {} },
          { ...mutation(key('local.create')), createOnly: true },
        )
        .catch(async (err: unknown) => {
          // Someone else created it between our read and our write: use theirs.
          if ((err as { code?: string }).code === 'version-conflict') return undefined;
          throw err;
        });
      if (!created) return store.getEnvironment(name);
      options.notice(
        `[gtc] created the local environment with ${Object.values(LOCAL_DEFAULT_SLOTS)
          .map((p) => p.id)
          .join(' and ')}`,
      );
      return { value: created.value, version: created.version ?? '' };
    }
    for (const [slot, pack] of Object.entries(LOCAL_DEFAULT_SLOTS) as [Slot, PackRef][]) {
      if (current.value.slots[slot]) continue;
      const r = await store.attachPack(name, slot, pack, mutation(key(`local.heal.${slot}`), current.version));
      options.notice(`[gtc] repaired the local environment: its ${slot} slot was empty, attached ${pack.id}`);
      current = { value: { ...current.value, slots: r.value }, version: r.version ?? current.version };
    }
    return current;
  }

  function stateDir(environmentName: string, packId: string): string {
    const dir = join(home, 'state', environmentName, packId);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return dir;
  }

  async function resolveSlot<P extends DeployerPack | SecretsPack>(
    name: string,
    slot: 'deployer' | 'secrets',
    key: (step: string) => string,
  ): Promise<{ pack: P; environment: Versioned<Environment> }> {
    const environmentRead = await environment(name, key);
    const ref = environmentRead.value.slots[slot];
    if (!ref) {
      throw new CliError('not-found', `environment ${name} has no ${slot} pack`, {
        code: 'slot-empty',
        hint: `attach one: gtc op env-packs attach ${slot === 'deployer' ? 'greentic.deployer.local-process' : 'greentic.secrets.file'} --env ${name}`,
      });
    }
    const pack = await registry.resolve<P>(ref.id, { config: ref.config ?? {} });
    packs.push(pack);
    return { pack, environment: environmentRead };
  }

  async function secretResolver(name: string, key: (step: string) => string): Promise<SecretResolver | undefined> {
    const environmentRead = await environment(name, key);
    const ref = environmentRead.value.slots.secrets;
    if (!ref || !registry.has(ref.id)) return undefined;
    const pack = await registry.resolve<SecretsPack>(ref.id, { config: ref.config ?? {} });
    return pack.resolver(packContext(environmentRead.value, ref.id));
  }

  function packContext(environmentValue: Environment, packId: string, secrets?: SecretResolver): PackContext {
    return {
      environment: environmentValue,
      stateDir: stateDir(environmentValue.name, packId),
      ...(secrets ? { secrets } : {}),
      ...(options.log ? { log: options.log } : {}),
    };
  }

  return {
    store,
    actor,
    remote: storeUrl !== undefined,
    home,
    registry,
    mutation,
    environment,
    stateDir,
    async deployer(name, key) {
      const { pack, environment: e } = await resolveSlot<DeployerPack>(name, 'deployer', key);
      const secrets = await secretResolver(name, key);
      return { pack, environment: e, ctx: packContext(e.value, pack.id, secrets) };
    },
    async secrets(name, key) {
      const { pack, environment: e } = await resolveSlot<SecretsPack>(name, 'secrets', key);
      return { pack, environment: e, ctx: packContext(e.value, pack.id) };
    },
    async close() {
      for (const p of packs) if (p.slot === 'deployer') await p.close?.();
      await store.close();
    },
  };
}

function defaultActor(): string {
  try {
    return `local:${userInfo().username.replace(/\s+/g, '-') || 'operator'}`;
  } catch {
    return 'local:operator';
  }
}

/** The folder of @greentic/cli (its node_modules holds the default packs). */
function cliPackageDir(): string {
  // src/session.ts or dist/<chunk>.js: the package folder is one level up either way.
  return resolve(dirname(fileURLToPath(import.meta.url)), '..');
}

/** `$GREENTIC_PACK_DIRS` (path-list): extra package folders to register packs from. */
function extraPackDirs(env: Readonly<Record<string, string | undefined>>): string[] {
  return (env.GREENTIC_PACK_DIRS ?? '').split(':').filter((d) => d.length > 0);
}

/**
 * The local SQLite store allows one process at a time (a second one is refused, never corrupted). Another gtc
 * command holding it usually finishes within seconds, so wait for it (bounded) instead of failing at once.
 */
async function openLocal(home: string, notice: (line: string) => void): Promise<GreenticStore> {
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const { openLocalStore } = await import('./store-backends');
  const file = join(home, 'store.db');
  const deadline = Date.now() + LOCAL_STORE_WAIT_MS;
  let told = false;
  for (;;) {
    try {
      return await openLocalStore(file);
    } catch (e) {
      const busy = (e as { code?: string }).code === 'unavailable' && /already open/.test((e as Error).message);
      if (!busy || Date.now() >= deadline) {
        if (busy) {
          throw new CliError(
            'unavailable',
            `the local store ${file} stayed busy for ${LOCAL_STORE_WAIT_MS / 1000} s: another process holds it`,
            {
              code: 'unavailable',
              hint: 'wait for the other gtc command to finish, or share one store between several operators with greentic-store-server and --store-url',
              cause: e,
            },
          );
        }
        throw e;
      }
      if (!told)
        notice(`[gtc] the local store is in use by another gtc command; waiting up to ${LOCAL_STORE_WAIT_MS / 1000} s`);
      told = true;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** How long a command waits for the local store while another command holds it. */
const LOCAL_STORE_WAIT_MS = 15_000;

async function openRemote(url: string, token: string | undefined): Promise<GreenticStore> {
  if (!token) {
    throw new CliError('forbidden', `the store server at ${url} needs a token`, {
      code: 'token-missing',
      hint: 'set GREENTIC_TOKEN to a token the store server issued (greentic-store-server prints the admin token on first start)',
    });
  }
  const { openRemoteStore } = await import('./store-backends');
  return openRemoteStore(url, token);
}
