import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSecretRef } from '@greentic/deploy-spec';
import { EnvPackError, type PackContext, type PackFactoryOptions, type SecretsPack } from '@greentic/env-pack';

// Values live in <stateDir>/secrets/<environment>.json, mode 0600, in a 0700 folder. Only references
// (secret://store/name) ever appear in messages, logs or the store; a value is read when a worker starts and
// handed to it, nothing else. A file readable by group or others is refused, the way ssh refuses a loose key.

export const PACK_ID = 'greentic.secrets.file';

interface SecretsFile {
  readonly version: 1;
  readonly secrets: Record<string, string>;
}

function fail(code: ConstructorParameters<typeof EnvPackError>[0], message: string): EnvPackError {
  return new EnvPackError(code, message, { pack: PACK_ID });
}

/** Where the values of `ctx.environment` live. */
export function secretsPath(ctx: PackContext): string {
  return join(ctx.stateDir, 'secrets', `${ctx.environment.name}.json`);
}

function checkRef(ref: string): void {
  if (!parseSecretRef(ref)) {
    throw fail(
      'refused',
      `"${ref}" is not a secret reference; use secret://<store>/<name>, e.g. secret://local/openai/api-key`,
    );
  }
}

function load(ctx: PackContext): SecretsFile {
  const path = secretsPath(ctx);
  if (!existsSync(path)) return { version: 1, secrets: {} };
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw fail(
      'refused',
      `${path} has mode 0${mode.toString(8)}, readable by others; secrets files must be 0600 (run: chmod 600 ${path})`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    // Never quote the content: it holds secret values.
    throw fail('failed', `${path} is not valid JSON; restore it from a backup or remove it and set the secrets again`);
  }
  const file = parsed as Partial<SecretsFile>;
  if (!file || typeof file !== 'object' || typeof file.secrets !== 'object' || file.secrets === null) {
    throw fail(
      'failed',
      `${path} has no "secrets" object; restore it from a backup or remove it and set the secrets again`,
    );
  }
  return { version: 1, secrets: { ...file.secrets } };
}

function save(ctx: PackContext, file: SecretsFile): void {
  const dir = join(ctx.stateDir, 'secrets');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const path = secretsPath(ctx);
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  const sorted = Object.fromEntries(Object.entries(file.secrets).sort(([a], [b]) => a.localeCompare(b)));
  // Created 0600 from the start (no window where the value is world-readable), then renamed over the old file.
  writeFileSync(tmp, `${JSON.stringify({ version: 1, secrets: sorted }, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/**
 * Create the file secrets pack. It has no config; everything is derived from the environment's state folder.
 *
 * @example
 * const secrets = createSecretsPack();
 * await secrets.set(ctx, 'secret://local/openai/api-key', process.env.OPENAI_API_KEY ?? '');
 * const value = await secrets.resolver(ctx).resolve('secret://local/openai/api-key');
 */
export function createSecretsPack(_options: PackFactoryOptions = { config: {} }): SecretsPack {
  return {
    id: PACK_ID,
    slot: 'secrets',
    async set(ctx, ref, value) {
      checkRef(ref);
      if (typeof value !== 'string' || value.length === 0) {
        throw fail('refused', `no value given for ${ref}; an empty secret is almost always a mistake`);
      }
      const file = load(ctx);
      if (file.secrets[ref] === value) return; // idempotent: nothing to write
      save(ctx, { version: 1, secrets: { ...file.secrets, [ref]: value } });
      ctx.log?.(`[${PACK_ID}] ${ref} set in environment ${ctx.environment.name}`);
    },
    async list(ctx) {
      return Object.keys(load(ctx).secrets).sort();
    },
    async delete(ctx, ref) {
      checkRef(ref);
      const file = load(ctx);
      if (!(ref in file.secrets)) return;
      const { [ref]: _gone, ...rest } = file.secrets;
      save(ctx, { version: 1, secrets: rest });
      ctx.log?.(`[${PACK_ID}] ${ref} deleted from environment ${ctx.environment.name}`);
    },
    resolver(ctx) {
      return {
        async resolve(ref) {
          checkRef(ref);
          const value = load(ctx).secrets[ref];
          if (value === undefined) {
            throw fail(
              'not-found',
              `secret ${ref} is not set in environment ${ctx.environment.name}; set it in the environment's secrets pack (${PACK_ID}) before starting what needs it`,
            );
          }
          return value;
        },
      };
    },
  };
}
