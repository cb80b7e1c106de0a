import { Command, Option } from 'clipanion';
import { EnvCommand, GtcCommand } from '../base-command';
import { isPackId, isSlot } from './validators';

export class PacksListCommand extends EnvCommand {
  static override paths = [['op', 'env-packs', 'list']];
  static override usage = Command.Usage({
    category: 'Env-packs',
    description: 'List installed env-packs and which slot of the environment each fills',
    examples: [
      ['Installed packs and the local environment slots', '$0 op env-packs list'],
      ['For staging, as JSON', '$0 op env-packs list --env staging --json'],
    ],
  });
  async run() {
    return (await import('../ops/packs')).listPacks(this.io());
  }
}

export class PacksAttachCommand extends EnvCommand {
  static override paths = [['op', 'env-packs', 'attach']];
  static override usage = Command.Usage({
    category: 'Env-packs',
    description: 'Fill a slot of the environment with an installed env-pack',
    details: 'The slot is the one the pack declares (deployer, secrets, telemetry, sessions, state).',
    examples: [
      ['Use the file secrets pack in staging', '$0 op env-packs attach greentic.secrets.file --env staging'],
      [
        'Attach the k8s deployer with config',
        '$0 op env-packs attach greentic.deployer.k8s --env zain-prod --config namespace=zain',
      ],
    ],
  });
  pack = Option.String({ name: 'pack-id', validator: isPackId });
  config = Option.Array('--config', { description: 'Pack setting key=value (repeatable)' });
  async run() {
    return (await import('../ops/packs')).attachPack(this.io(), this.pack, this.config ?? []);
  }
}

export class PacksDetachCommand extends EnvCommand {
  static override paths = [['op', 'env-packs', 'detach']];
  static override usage = Command.Usage({
    category: 'Env-packs',
    description: 'Empty a slot of the environment',
    examples: [['Remove the telemetry pack from staging', '$0 op env-packs detach telemetry --env staging']],
  });
  slot = Option.String({ name: 'slot', validator: isSlot });
  async run() {
    return (await import('../ops/packs')).detachPack(this.io(), this.slot);
  }
}

export class PacksConformanceCommand extends GtcCommand {
  static override paths = [['op', 'env-packs', 'conformance']];
  static override usage = Command.Usage({
    category: 'Env-packs',
    description: 'Run the deployer conformance suite against an installed pack',
    details: 'Every check prints pass or fail with the reason; exits 7 when any check fails.',
    examples: [['Check the local-process deployer', '$0 op env-packs conformance greentic.deployer.local-process']],
  });
  pack = Option.String({ name: 'pack-id', validator: isPackId });
  async run() {
    return (await import('../ops/packs')).runPackConformance(this.io(), this.pack);
  }
}
