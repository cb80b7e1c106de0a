import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import type { Credentials } from '@greentic/deploy-spec';
import type { CommandIO } from '../base-command';
import { CliError } from '../cli-error';
import { explainConflict, parsePairs, readOptional } from './common';

function paramsOf(pairs: readonly string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(parsePairs(pairs, 'param')).map(([k, v]) => [k, String(v)]));
}

export async function showRequirements(io: CommandIO): Promise<number> {
  const s = await io.session();
  const bound = await s.deployer(io.environment, io.key);
  const requirements = bound.pack.credentials.requirements(bound.ctx);
  const record = await readOptional(() => s.store.credentialRequirements(io.environment, bound.pack.id));
  if (io.json) {
    io.out.json({
      environment: io.environment,
      pack: bound.pack.id,
      modes: bound.pack.capabilities.credentialsModes,
      requirements,
      record: record?.value ?? null,
    });
    return 0;
  }
  io.out.line(
    `${bound.pack.id} in ${io.environment} needs (modes ${bound.pack.capabilities.credentialsModes.join(', ') || 'none'}):`,
  );
  io.out.table(requirements, [
    { header: 'RESOURCE', value: (p) => p.resource },
    { header: 'VERBS', value: (p) => p.verbs.join(',') },
    { header: 'SCOPE', value: (p) => p.scope },
  ]);
  if (record) {
    const r = record.value;
    io.out.line();
    io.out.line(
      `recorded: mode ${r.mode}${r.subject ? `, subject ${r.subject}` : ''}${r.secretRef ? `, key ${r.secretRef}` : ''}${r.verifiedAt ? `, verified ${r.verifiedAt}` : ''}${r.rotatedAt ? `, rotated ${r.rotatedAt}` : ''}`,
    );
  } else io.out.line(`\nno credentials recorded yet for ${io.environment}`);
  return 0;
}

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

export interface BootstrapInput {
  readonly masterRef: string | undefined;
  readonly masterStdin: boolean;
  readonly outDir: string;
  readonly params: readonly string[];
}

export async function bootstrapCredentials(io: CommandIO, input: BootstrapInput): Promise<number> {
  if (!input.masterRef && !input.masterStdin) {
    throw new CliError('usage', 'mode B needs the master key once: give --master-ref secret://… or --master-stdin', {
      code: 'invalid',
    });
  }
  const s = await io.session();
  const bound = await s.deployer(io.environment, io.key);
  const params = paramsOf(input.params);
  const master = input.masterRef ? { ref: input.masterRef, params } : { value: await readAll(io.stdin), params };
  const rules = await bound.pack.credentials.bootstrap(bound.ctx, master);
  const out = resolve(io.cwd, input.outDir);
  for (const f of rules.files) {
    const p = join(out, f.path);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, f.content);
  }
  const existing = await readOptional(() => s.store.credentialRequirements(io.environment, bound.pack.id));
  const record: Credentials = {
    environment: io.environment,
    pack: bound.pack.id,
    mode: 'B',
    requirements: [...rules.permissions],
  };
  await explainConflict(`the credentials record of ${io.environment}`, 'gtc op credentials bootstrap …', () =>
    s.store.recordBootstrap(record, s.mutation(io.key('credentials.bootstrap'), existing?.version)),
  );
  if (io.json)
    io.out.json({
      environment: io.environment,
      pack: bound.pack.id,
      out,
      files: rules.files.map((f) => f.path),
      permissions: rules.permissions,
    });
  else {
    io.out.line(
      `wrote the rules pack for ${bound.pack.id} to ${out} (${rules.files.length} files); the master key was used once and not stored`,
    );
    for (const f of rules.files) io.out.line(`  ${f.path}`);
    io.out.note(
      '[gtc] next: have an admin review and apply these files, then: gtc op credentials rotate --key-ref secret://…',
    );
  }
  return 0;
}

export async function rotateCredentials(io: CommandIO, keyRef: string, paramPairs: readonly string[]): Promise<number> {
  const s = await io.session();
  const bound = await s.deployer(io.environment, io.key);
  const v = await bound.pack.credentials.verify(bound.ctx, { ref: keyRef, params: paramsOf(paramPairs) });
  if (!v.ok) {
    const fmt = (ps: typeof v.missing) => ps.map((p) => `${p.resource} [${p.verbs.join(',')}]`).join('; ');
    throw new CliError(
      'forbidden',
      `the key ${keyRef} does not hold exactly what ${bound.pack.id} needs${v.missing.length ? `; missing: ${fmt(v.missing)}` : ''}${v.extra.length ? `; extra (remove them): ${fmt(v.extra)}` : ''}; nothing was changed`,
      {
        code: 'credentials',
        hint: `fix the key's rights (gtc op credentials requirements --env ${io.environment}) and rotate again`,
      },
    );
  }
  const now = new Date().toISOString();
  const existing = await readOptional(() => s.store.credentialRequirements(io.environment, bound.pack.id));
  if (!existing) {
    await s.store.recordBootstrap(
      {
        environment: io.environment,
        pack: bound.pack.id,
        mode: 'A',
        requirements: [...bound.pack.credentials.requirements(bound.ctx)],
        secretRef: keyRef,
        verifiedAt: now,
        ...(v.subject ? { subject: v.subject } : {}),
      },
      s.mutation(io.key('credentials.record')),
    );
  } else {
    await explainConflict(
      `the credentials record of ${io.environment}`,
      `gtc op credentials rotate --key-ref ${keyRef}`,
      () =>
        s.store.rotateCredentials(
          io.environment,
          bound.pack.id,
          { secretRef: keyRef, verifiedAt: now, rotatedAt: now },
          s.mutation(io.key('credentials.rotate'), existing.version),
        ),
    );
  }
  if (io.json)
    io.out.json({
      environment: io.environment,
      pack: bound.pack.id,
      secretRef: keyRef,
      subject: v.subject ?? null,
      verifiedAt: now,
    });
  else
    io.out.line(
      `verified ${keyRef}${v.subject ? ` (${v.subject})` : ''}: it holds exactly what ${bound.pack.id} needs; ${io.environment} now uses it`,
    );
  return 0;
}
