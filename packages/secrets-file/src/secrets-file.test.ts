import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isEnvPackError, type PackContext } from '@greentic/env-pack';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSecretsPack, secretsPath } from './index';

const VALUE = 'sk-test-4f9a8b7c6d5e4f3a2b1c';
let stateDir: string;
let lines: string[];
const ctxFor = (env: string): PackContext => ({
  environment: { name: env, slots: {}, config: {} },
  stateDir,
  log: (l) => lines.push(l),
});

beforeEach(() => {
  stateDir = mkdtempSync(join(tmpdir(), 'greentic-secrets-'));
  lines = [];
});
afterEach(() => rmSync(stateDir, { recursive: true, force: true }));

describe('greentic.secrets.file', () => {
  it('keeps values in a 0600 file per environment, in a 0700 folder, and resolves secret:// references', async () => {
    const pack = createSecretsPack();
    const ctx = ctxFor('local');
    await pack.set(ctx, 'secret://local/openai/api-key', VALUE);
    expect(secretsPath(ctx)).toBe(join(stateDir, 'secrets', 'local.json'));
    expect(statSync(secretsPath(ctx)).mode & 0o777).toBe(0o600);
    expect(statSync(join(stateDir, 'secrets')).mode & 0o777).toBe(0o700);
    expect(await pack.resolver(ctx).resolve('secret://local/openai/api-key')).toBe(VALUE);
    expect(await pack.list(ctx)).toEqual(['secret://local/openai/api-key']);
    // Another environment has its own file and does not see it.
    const staging = ctxFor('staging');
    expect(await pack.list(staging)).toEqual([]);
    await pack.set(staging, 'secret://staging/openai/api-key', 'other');
    expect(statSync(secretsPath(staging)).mode & 0o777).toBe(0o600);
    expect(await pack.resolver(ctx).resolve('secret://local/openai/api-key')).toBe(VALUE);
  });

  it('never writes a value to its log lines, errors or listings', async () => {
    const pack = createSecretsPack();
    const ctx = ctxFor('local');
    await pack.set(ctx, 'secret://local/db/password', VALUE);
    await pack.delete(ctx, 'secret://local/db/password');
    const err = await pack
      .resolver(ctx)
      .resolve('secret://local/db/password')
      .catch((e: unknown) => e);
    const said = [...lines, String((err as Error).message), JSON.stringify(await pack.list(ctx))].join('\n');
    expect(lines).toEqual([
      '[greentic.secrets.file] secret://local/db/password set in environment local',
      '[greentic.secrets.file] secret://local/db/password deleted from environment local',
    ]);
    expect(said).not.toContain(VALUE);
  });

  it('a missing secret is a not-found error naming the reference', async () => {
    const pack = createSecretsPack();
    const ctx = ctxFor('local');
    await pack.set(ctx, 'secret://local/other', VALUE);
    const err = await pack
      .resolver(ctx)
      .resolve('secret://local/slack/token')
      .catch((e: unknown) => e);
    expect(isEnvPackError(err, 'not-found')).toBe(true);
    expect((err as Error).message).toBe(
      "[greentic.secrets.file] secret secret://local/slack/token is not set in environment local; set it in the environment's secrets pack (greentic.secrets.file) before starting what needs it",
    );
  });

  it('refuses what is not a secret reference, and an empty value, changing nothing', async () => {
    const pack = createSecretsPack();
    const ctx = ctxFor('local');
    const bad = await pack.set(ctx, 'openai-key', VALUE).catch((e: unknown) => e);
    expect(isEnvPackError(bad, 'refused')).toBe(true);
    expect((bad as Error).message).toContain('use secret://<store>/<name>');
    expect((bad as Error).message).not.toContain(VALUE);
    const empty = await pack.set(ctx, 'secret://local/x', '').catch((e: unknown) => e);
    expect(isEnvPackError(empty, 'refused')).toBe(true);
    expect(await pack.list(ctx)).toEqual([]);
  });

  it('refuses a secrets file that others can read, like ssh does, and a corrupt one without quoting it', async () => {
    const pack = createSecretsPack();
    const ctx = ctxFor('local');
    await pack.set(ctx, 'secret://local/a', VALUE);
    chmodSync(secretsPath(ctx), 0o644);
    const loose = await pack
      .resolver(ctx)
      .resolve('secret://local/a')
      .catch((e: unknown) => e);
    expect(isEnvPackError(loose, 'refused')).toBe(true);
    expect((loose as Error).message).toContain(`chmod 600 ${secretsPath(ctx)}`);
    writeFileSync(secretsPath(ctx), `{"secrets": {"secret://local/a": "${VALUE}"`, { mode: 0o600 });
    chmodSync(secretsPath(ctx), 0o600);
    const torn = await pack.list(ctx).catch((e: unknown) => e);
    expect(isEnvPackError(torn, 'failed')).toBe(true);
    expect((torn as Error).message).not.toContain(VALUE);
  });

  it('set, delete and resolve behave like a map of references to values (property)', async () => {
    const ref = fc.constantFrom('secret://local/a', 'secret://local/b/c', 'secret://local/d');
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), ref, value: fc.string({ minLength: 1, maxLength: 20 }) }),
      fc.record({ kind: fc.constant('delete' as const), ref }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 12 }), async (ops) => {
        const dir = mkdtempSync(join(tmpdir(), 'greentic-secrets-prop-'));
        const ctx: PackContext = { environment: { name: 'local', slots: {}, config: {} }, stateDir: dir };
        const pack = createSecretsPack();
        const model = new Map<string, string>();
        try {
          for (const o of ops) {
            if (o.kind === 'set') {
              await pack.set(ctx, o.ref, o.value);
              model.set(o.ref, o.value);
            } else {
              await pack.delete(ctx, o.ref);
              model.delete(o.ref);
            }
          }
          expect(await pack.list(ctx)).toEqual([...model.keys()].sort());
          for (const [k, v] of model) expect(await pack.resolver(ctx).resolve(k)).toBe(v);
          if (existsSync(secretsPath(ctx))) {
            expect(statSync(secretsPath(ctx)).mode & 0o777).toBe(0o600);
            expect(readFileSync(secretsPath(ctx), 'utf8')).toContain('"version": 1');
          } else {
            expect(model.size).toBe(0);
          }
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 40 },
    );
  });
});
