import { Command, Option } from 'clipanion';
import { GtcCommand } from '../base-command';
import { isName, isOutcome, isPositive } from './validators';

export class AuditListCommand extends GtcCommand {
  static override paths = [['op', 'audit', 'list']];
  static override usage = Command.Usage({
    category: 'Audit',
    description: 'List audit entries, newest first: who, where, what, outcome',
    examples: [
      ['The last 20 entries', '$0 op audit list'],
      ['Refusals in zain-prod', '$0 op audit list --env zain-prod --outcome refused --limit 50'],
    ],
  });
  envName = Option.String('--env,-e', { validator: isName, description: 'Only this environment' });
  outcome = Option.String('--outcome', { validator: isOutcome, description: 'applied or refused' });
  limit = Option.String('--limit', { validator: isPositive, description: 'At most this many (default 20)' });
  async run() {
    return (await import('../ops/audit')).listAudit(this.io(), {
      environment: this.envName,
      outcome: this.outcome,
      limit: this.limit ?? 20,
    });
  }
}

export class AuditVerifyCommand extends GtcCommand {
  static override paths = [['op', 'audit', 'verify']];
  static override usage = Command.Usage({
    category: 'Audit',
    description: 'Verify the audit hash chain; exits 7 when an entry was removed, reordered or edited',
    examples: [['Verify', '$0 op audit verify']],
  });
  async run() {
    return (await import('../ops/audit')).verifyAudit(this.io());
  }
}
