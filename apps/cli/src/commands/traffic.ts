import { Command, Option } from 'clipanion';
import { EnvCommand } from '../base-command';
import { isName, isPositive } from './validators';

export class TrafficGetCommand extends EnvCommand {
  static override paths = [['op', 'traffic', 'get']];
  static override usage = Command.Usage({
    category: 'Traffic',
    description: 'Show the traffic split of a deployment',
    examples: [['Split of support', '$0 op traffic get support']],
  });
  deployment = Option.String({ name: 'deployment', validator: isName });
  async run() {
    return (await import('../ops/traffic')).getTraffic(this.io(), this.deployment);
  }
}

export class TrafficSetCommand extends EnvCommand {
  static override paths = [['op', 'traffic', 'set']];
  static override usage = Command.Usage({
    category: 'Traffic',
    description: 'Set the traffic split: revision=percent, summing to exactly 100',
    details: `
      Only ready revisions may receive traffic. Percent takes up to two decimals (r8=0.5). The new split is
      recorded in the store, then handed to the router through the deployer (publishRoutes).
    `,
    examples: [
      ['Send 10% to r8', '$0 op traffic set support r7=90 r8=10'],
      ['Everything to r8', '$0 op traffic set support r8=100'],
    ],
  });
  deployment = Option.String({ name: 'deployment', validator: isName });
  shares = Option.Rest({ required: 1 });
  async run() {
    return (await import('../ops/traffic')).setTraffic(this.io(), this.deployment, this.shares);
  }
}

export class TrafficRollbackCommand extends EnvCommand {
  static override paths = [['op', 'traffic', 'rollback']];
  static override usage = Command.Usage({
    category: 'Traffic',
    description: 'Return the split to the one before it (one step), without redeploying',
    examples: [['Undo the last traffic change of support', '$0 op traffic rollback support']],
  });
  deployment = Option.String({ name: 'deployment', validator: isName });
  async run() {
    return (await import('../ops/traffic')).rollbackTraffic(this.io(), this.deployment);
  }
}

export class TrafficHistoryCommand extends EnvCommand {
  static override paths = [['op', 'traffic', 'history']];
  static override usage = Command.Usage({
    category: 'Traffic',
    description: 'List the past splits of a deployment, newest first',
    examples: [['Last 10 splits of support', '$0 op traffic history support --limit 10']],
  });
  deployment = Option.String({ name: 'deployment', validator: isName });
  limit = Option.String('--limit', { validator: isPositive, description: 'At most this many (default 20)' });
  async run() {
    return (await import('../ops/traffic')).trafficHistory(this.io(), this.deployment, this.limit ?? 20);
  }
}
