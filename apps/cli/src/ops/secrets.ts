import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import type { CommandIO } from '../base-command';
import { CliError } from '../cli-error';
import { explainConflict, readOptional } from './common';

const SECRET_REF = /^secret:\/\/[a-z0-9][a-z0-9._-]*(\/[A-Za-z0-9._-]+)+$/;

/**
 * `support/api-key` → `secret://<env>/support/api-key`; a full reference stays as it is. The store keeps the
 * reference under a flat name: the path after the store segment with `/` → `.` (`support.api-key`).
 */
export function secretRefOf(environment: string, input: string): { ref: string; name: string } {
  const ref = input.startsWith('secret://') ? input : `secret://${environment}/${input.replace(/^\/+/, '')}`;
  if (!SECRET_REF.test(ref) || ref.length > 512) {
    throw new CliError('usage', `"${input}" is not a secret reference`, {
      code: 'invalid',
      hint: `use a path like support/api-key (letters, digits, . _ - and /), or secret://${environment}/support/api-key`,
    });
  }
  const name = ref.slice('secret://'.length).split('/').slice(1).join('.').slice(0, 128);
  return { ref, name };
}

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

export async function setSecret(io: CommandIO, input: string, fromFile: string | undefined): Promise<number> {
  const { ref, name } = secretRefOf(io.environment, input);
  if (!fromFile && (io.stdin as { isTTY?: boolean }).isTTY) {
    throw new CliError('usage', `secret ${ref}: no value given`, {
      code: 'invalid',
      hint: `pipe it in (printf %s "$VALUE" | gtc op secrets set ${input}) or use --from-file <file>`,
    });
  }
  const raw = fromFile ? readFileSync(resolve(io.cwd, fromFile), 'utf8') : await readAll(io.stdin);
  // A trailing newline from `echo` is almost never part of the secret.
  const value = raw.replace(/\r?\n$/, '');
  if (value.length === 0) {
    throw new CliError('usage', `secret ${ref}: the value is empty; nothing was stored`, { code: 'invalid' });
  }
  const s = await io.session();
  const secrets = await s.secrets(io.environment, io.key);
  await secrets.pack.set(secrets.ctx, ref, value);
  const existing = (await s.store.listSecretRefs(io.environment)).find((r) => r.value.name === name);
  if (!existing || existing.value.ref !== ref) {
    await explainConflict(`secret reference ${name} of ${io.environment}`, `gtc op secrets set ${input}`, () =>
      s.store.putSecretRef(io.environment, name, ref, s.mutation(io.key('secret-ref.put'), existing?.version)),
    );
  }
  if (io.json) io.out.json({ environment: io.environment, name, ref, pack: secrets.pack.id });
  else io.out.line(`stored ${ref} in ${secrets.pack.id} (the store keeps only the reference)`);
  return 0;
}

export async function listSecrets(io: CommandIO): Promise<number> {
  const s = await io.session();
  const refs = await s.store.listSecretRefs(io.environment);
  const secrets = await readOptional(() => s.secrets(io.environment, io.key));
  const held = new Set(secrets ? await secrets.pack.list(secrets.ctx) : []);
  const rows = refs.map((r) => ({ name: r.value.name, ref: r.value.ref, present: held.has(r.value.ref) }));
  if (io.json) {
    io.out.json({ environment: io.environment, pack: secrets?.pack.id ?? null, secrets: rows });
    return 0;
  }
  io.out.table(
    rows,
    [
      { header: 'NAME', value: (r) => r.name },
      { header: 'REFERENCE', value: (r) => r.ref },
      { header: 'VALUE', value: (r) => (r.present ? 'stored' : io.out.style('yellow', 'missing')) },
    ],
    `(no secrets in ${io.environment})`,
  );
  return 0;
}

export async function deleteSecret(io: CommandIO, input: string): Promise<number> {
  const { ref, name } = secretRefOf(io.environment, input);
  const s = await io.session();
  const secrets = await s.secrets(io.environment, io.key);
  const existing = (await s.store.listSecretRefs(io.environment)).find((r) => r.value.name === name);
  await secrets.pack.delete(secrets.ctx, ref);
  if (existing) {
    await explainConflict(`secret reference ${name} of ${io.environment}`, `gtc op secrets delete ${input}`, () =>
      s.store.deleteSecretRef(io.environment, name, s.mutation(io.key('secret-ref.delete'), existing.version)),
    );
  }
  if (io.json) io.out.json({ environment: io.environment, name, ref, deleted: true });
  else
    io.out.line(
      existing ? `deleted ${ref}` : `${ref} was not registered; its value (if any) was removed from ${secrets.pack.id}`,
    );
  return 0;
}
