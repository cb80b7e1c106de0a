import type { PackRef, Slot } from '@greentic/deploy-spec';
import type { CommandIO } from '../base-command';
import { CliError } from '../cli-error';
import { explainConflict, parsePairs } from './common';

export async function listPacks(io: CommandIO): Promise<number> {
  const s = await io.session();
  const env = await s.environment(io.environment, io.key);
  const attached = new Map<string, Slot>();
  for (const [slot, p] of Object.entries(env.value.slots) as [Slot, PackRef][]) attached.set(p.id, slot);
  const installed = s.registry.list();
  const rows = installed.map((p) => ({
    id: p.id,
    slot: p.slot,
    packageName: p.packageName,
    summary: p.summary,
    attached: attached.get(p.id) === p.slot,
  }));
  // Packs the environment names but that are not installed here.
  for (const [id, slot] of attached) {
    if (!installed.some((p) => p.id === id)) {
      rows.push({ id, slot, packageName: '(not installed)', summary: '', attached: true });
    }
  }
  if (io.json) {
    io.out.json({ environment: io.environment, version: env.version, packs: rows });
    return 0;
  }
  io.out.table(rows, [
    { header: 'PACK', value: (r) => r.id },
    { header: 'SLOT', value: (r) => r.slot },
    { header: io.environment.toUpperCase(), value: (r) => (r.attached ? 'attached' : '') },
    { header: 'PACKAGE', value: (r) => r.packageName },
    { header: 'SUMMARY', value: (r) => r.summary },
  ]);
  return 0;
}

export async function attachPack(io: CommandIO, packId: string, config: readonly string[]): Promise<number> {
  const s = await io.session();
  if (!s.registry.has(packId)) {
    const known = s.registry.list().map((p) => p.id);
    throw new CliError(
      'not-found',
      `no env-pack named ${packId} is installed; installed: ${known.join(', ') || '(none)'}`,
      {
        code: 'unknown-pack',
        hint: 'install the package that provides it (pnpm add <package>), then run this again',
      },
    );
  }
  const { slot } = s.registry.describe(packId);
  const env = await s.environment(io.environment, io.key);
  const pack: PackRef = { id: packId, ...(config.length > 0 ? { config: parsePairs(config, 'pack config') } : {}) };
  const before = env.value.slots[slot];
  const r = await explainConflict(
    `environment ${io.environment}`,
    `gtc op env-packs attach ${packId} --env ${io.environment}`,
    () => s.store.attachPack(io.environment, slot, pack, s.mutation(io.key('pack.attach'), env.version)),
  );
  const what = before && before.id !== packId ? ` (replacing ${before.id})` : '';
  if (io.json) io.out.json({ environment: io.environment, slot, pack, slots: r.value, version: r.version });
  else io.out.line(`attached ${packId} to the ${slot} slot of ${io.environment}${what}`);
  return 0;
}

export async function detachPack(io: CommandIO, slot: Slot): Promise<number> {
  const s = await io.session();
  const env = await s.environment(io.environment, io.key);
  const before = env.value.slots[slot];
  if (!before) {
    throw new CliError('not-found', `the ${slot} slot of ${io.environment} is already empty; nothing was changed`, {
      code: 'slot-empty',
      hint: `see the slots with: gtc op env get ${io.environment}`,
    });
  }
  const r = await explainConflict(
    `environment ${io.environment}`,
    `gtc op env-packs detach ${slot} --env ${io.environment}`,
    () => s.store.detachPack(io.environment, slot, s.mutation(io.key('pack.detach'), env.version)),
  );
  if (io.json)
    io.out.json({ environment: io.environment, slot, detached: before.id, slots: r.value, version: r.version });
  else {
    io.out.line(`detached ${before.id} from the ${slot} slot of ${io.environment}`);
    if (io.environment === 'local' && (slot === 'deployer' || slot === 'secrets')) {
      io.out.note('[gtc] note: the local environment gets its default pack back the next time a command uses it');
    }
  }
  return 0;
}

export async function runPackConformance(io: CommandIO, packId: string): Promise<number> {
  const s = await io.session();
  if (!s.registry.has(packId)) {
    throw new CliError('not-found', `no env-pack named ${packId} is installed`, {
      code: 'unknown-pack',
      hint: `installed packs: ${
        s.registry
          .list()
          .map((p) => p.id)
          .join(', ') || '(none)'
      }`,
    });
  }
  const { runPackConformance: run } = await import('./conformance');
  return run(io, s, packId);
}
