import { resolve } from 'node:path';
import type { CommandIO } from '../base-command';

export async function backupStore(io: CommandIO, file: string): Promise<number> {
  const s = await io.session();
  // A remote store writes the backup on the server's disk; the path is the server's.
  const target = s.remote ? file : resolve(io.cwd, file);
  const m = await io.out.spin(`backing up the store to ${target}`, () => s.store.backup(target));
  if (io.json) io.out.json({ manifest: m });
  else {
    io.out.line(`backup written to ${m.file} (${Object.keys(m.objects).length} objects, generation ${m.generation})`);
    io.out.line(`manifest: ${m.file}.manifest.json, audit head ${m.auditHead ? `#${m.auditHead.seq}` : '(empty)'}`);
  }
  return 0;
}

export async function restoreStore(io: CommandIO, file: string, force: boolean): Promise<number> {
  const s = await io.session();
  const target = s.remote ? file : resolve(io.cwd, file);
  const r = await io.out.spin(`verifying and restoring ${target}`, () =>
    s.store.restore(target, { actor: s.actor, requestId: io.key('store.restore'), force }),
  );
  if (io.json) io.out.json(r);
  else {
    io.out.line(
      `restored ${r.objects} objects from ${r.manifest.file} (generation ${r.manifest.generation}, replaced generation ${r.replacedGeneration})${r.forced ? ' [forced: recorded in the audit]' : ''}`,
    );
  }
  return 0;
}

export async function verifyStore(io: CommandIO): Promise<number> {
  const s = await io.session();
  const r = await io.out.spin('verifying every object of the store', () => s.store.verifyIntegrity());
  if (io.json) io.out.json(r);
  else if (r.ok)
    io.out.line(`store verified: ${r.objectsChecked} objects, audit chain of ${r.audit.entries} entries intact`);
  else {
    io.out.line(`store is corrupt: ${r.corrupt.length} object(s) fail their hash`);
    for (const o of r.corrupt) io.out.line(`  ${o.kind} ${o.key}`);
    for (const e of r.engine) io.out.line(`  engine: ${e}`);
    for (const p of r.audit.problems) io.out.line(`  audit #${p.seq} ${p.problem}: ${p.message}`);
    io.out.note('[gtc] next: restore the last good backup: gtc op store restore <file>');
  }
  return r.ok ? 0 : 7;
}
