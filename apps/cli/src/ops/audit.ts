import type { CommandIO } from '../base-command';
import { CliError } from '../cli-error';

export interface AuditListInput {
  readonly environment: string | undefined;
  readonly outcome: string | undefined;
  readonly limit: number;
}

export async function listAudit(io: CommandIO, input: AuditListInput): Promise<number> {
  if (input.outcome !== undefined && input.outcome !== 'applied' && input.outcome !== 'refused') {
    throw new CliError('usage', `--outcome must be applied or refused, got "${input.outcome}"`, { code: 'invalid' });
  }
  const s = await io.session();
  const all = await s.store.queryAudit({
    ...(input.environment ? { environment: input.environment } : {}),
    ...(input.outcome ? { outcome: input.outcome as 'applied' | 'refused' } : {}),
    limit: 10_000,
  });
  const entries = all.slice(-input.limit).reverse();
  if (io.json) {
    io.out.json({ entries });
    return 0;
  }
  io.out.table(
    entries,
    [
      { header: 'SEQ', value: (e) => String(e.seq), align: 'right' },
      { header: 'AT', value: (e) => e.at },
      { header: 'ACTOR', value: (e) => e.actor },
      { header: 'ENV', value: (e) => e.environment ?? '-' },
      { header: 'ACTION', value: (e) => e.action },
      { header: 'TARGET', value: (e) => e.target },
      {
        header: 'OUTCOME',
        value: (e) => (e.outcome === 'refused' ? io.out.style('yellow', `refused ${e.code ?? ''}`.trim()) : e.outcome),
      },
    ],
    '(no audit entries)',
  );
  return 0;
}

export async function verifyAudit(io: CommandIO): Promise<number> {
  const s = await io.session();
  const v = await s.store.verifyAudit();
  if (io.json) io.out.json(v);
  else if (v.ok)
    io.out.line(
      `audit chain verified: ${v.entries} entries, head ${v.head ? `#${v.head.seq} ${v.head.hash}` : '(empty)'}`,
    );
  else {
    io.out.line(`audit chain broken: ${v.problems.length} problem(s) in ${v.entries} entries`);
    for (const p of v.problems) io.out.line(`  #${p.seq} ${p.problem}: ${p.message}`);
  }
  return v.ok ? 0 : 7;
}
