import { Command, Option } from 'clipanion';
import { EnvCommand } from '../base-command';

export class ConfigGetCommand extends EnvCommand {
  static override paths = [['op', 'config', 'get']];
  static override usage = Command.Usage({
    category: 'Config',
    description: 'Show the non-secret config of the environment (or one key)',
    examples: [
      ['All config of local', '$0 op config get'],
      ['One key in staging', '$0 op config get log.level --env staging'],
    ],
  });
  key = Option.String({ name: 'key', required: false });
  async run() {
    return (await import('../ops/config')).getConfig(this.io(), this.key);
  }
}

export class ConfigSetCommand extends EnvCommand {
  static override paths = [['op', 'config', 'set']];
  static override usage = Command.Usage({
    category: 'Config',
    description: 'Set (key=value) or remove (--unset key) non-secret config keys',
    details:
      'Numbers and true/false are stored as such; quote a value to keep it a string ("8080"). Secrets go through `gtc op secrets set`.',
    examples: [
      ['Set two keys', '$0 op config set log.level=debug replicas=2'],
      ['Remove one', '$0 op config set --unset log.level'],
    ],
  });
  pairs = Option.Rest();
  unset = Option.Array('--unset', { description: 'Key to remove (repeatable)' });
  async run() {
    return (await import('../ops/config')).setConfig(this.io(), this.pairs, this.unset ?? []);
  }
}
