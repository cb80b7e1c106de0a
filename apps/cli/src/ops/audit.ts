import type { CommandIO } from '../base-command';

export interface AuditListInput {
  readonly environment: string | undefined;
  readonly outcome: 'applied' | 'refused' | undefined;
  readonly limit: number;
}

export async function listAudit(io: CommandIO, input: AuditListInput): Promise<number> {
  const s = await io.session();
  const all = await s.store.queryAudit({
    ...(input.environment ? { environment: input.environment } : {}),
    ...(input.outcome ? { outcome: input.outcome } : {}),
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
