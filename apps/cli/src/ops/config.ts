import type { ConfigMap } from '@greentic/deploy-spec';
import type { CommandIO } from '../base-command';
import { CliError } from '../cli-error';
import { explainConflict, parsePairs } from './common';

export async function getConfig(io: CommandIO, key: string | undefined): Promise<number> {
  const s = await io.session();
  await s.environment(io.environment, io.key);
  const c = await s.store.getConfig(io.environment);
  if (key !== undefined && !(key in c.value)) {
    throw new CliError('not-found', `environment ${io.environment} has no config key ${key}`, {
      code: 'not-found',
      hint: `set it: gtc op config set ${key}=<value>${io.environment === 'local' ? '' : ` --env ${io.environment}`}`,
    });
  }
  if (io.json) {
    io.out.json(
      key === undefined
        ? { environment: io.environment, config: c.value, version: c.version }
        : { key, value: c.value[key] },
    );
    return 0;
  }
  if (key !== undefined) {
    io.out.line(String(c.value[key]));
    return 0;
  }
  const rows = Object.entries(c.value).sort(([a], [b]) => a.localeCompare(b));
  io.out.table(
    rows,
    [
      { header: 'KEY', value: ([k]) => k },
      { header: 'VALUE', value: ([, v]) => JSON.stringify(v) },
    ],
    `(no config in ${io.environment})`,
  );
  return 0;
}

export async function setConfig(io: CommandIO, pairs: readonly string[], unset: readonly string[]): Promise<number> {
  if (pairs.length === 0 && unset.length === 0) {
    throw new CliError('usage', 'give at least one key=value or --unset key', {
      code: 'invalid',
      hint: 'e.g. gtc op config set log.level=debug',
    });
  }
  const changes = parsePairs(pairs, 'config');
  const s = await io.session();
  await s.environment(io.environment, io.key);
  const before = await s.store.getConfig(io.environment);
  const next: ConfigMap = { ...before.value, ...changes };
  for (const k of unset) delete next[k];
  const changed = JSON.stringify(Object.entries(next).sort()) !== JSON.stringify(Object.entries(before.value).sort());
  if (changed) {
    await explainConflict(
      `the config of ${io.environment}`,
      `gtc op config set ${[...pairs, ...unset.map((k) => `--unset ${k}`)].join(' ')}`,
      () => s.store.setConfig(io.environment, next, s.mutation(io.key('config.set'), before.version)),
    );
  }
  if (io.json) io.out.json({ environment: io.environment, config: next, changed });
  else if (!changed) io.out.line(`the config of ${io.environment} already says that; nothing changed`);
  else {
    for (const [k, v] of Object.entries(changes)) io.out.line(`set ${k}=${JSON.stringify(v)}`);
    for (const k of unset) io.out.line(k in before.value ? `removed ${k}` : `${k} was not set`);
  }
  return 0;
}
