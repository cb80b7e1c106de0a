import { Command, Option } from 'clipanion';
import { EnvCommand } from '../base-command';

export class SecretsSetCommand extends EnvCommand {
  static override paths = [['op', 'secrets', 'set']];
  static override usage = Command.Usage({
    category: 'Secrets',
    description: "Store a secret value in the environment's secrets pack; only its reference goes to the store",
    details: `
      The value is read from stdin (or \`--from-file\`), never from the command line, so it stays out of shell
      history and process lists. A bare name becomes secret://<env>/<name>.
    `,
    examples: [
      ['From stdin', 'printf %s "$API_KEY" | $0 op secrets set support/api-key'],
      ['From a file', '$0 op secrets set secret://local/support/cert --from-file ./cert.pem'],
    ],
  });
  ref = Option.String({ name: 'ref' });
  fromFile = Option.String('--from-file', { description: 'Read the value from this file' });
  async run() {
    return (await import('../ops/secrets')).setSecret(this.io(), this.ref, this.fromFile);
  }
}

export class SecretsListCommand extends EnvCommand {
  static override paths = [['op', 'secrets', 'list']];
  static override usage = Command.Usage({
    category: 'Secrets',
    description: 'List secret references (never values), and whether the secrets pack holds each',
    examples: [['References in local', '$0 op secrets list']],
  });
  async run() {
    return (await import('../ops/secrets')).listSecrets(this.io());
  }
}

export class SecretsDeleteCommand extends EnvCommand {
  static override paths = [['op', 'secrets', 'delete']];
  static override usage = Command.Usage({
    category: 'Secrets',
    description: 'Remove a secret from the secrets pack and its reference from the store',
    examples: [['Remove the api key', '$0 op secrets delete support/api-key']],
  });
  ref = Option.String({ name: 'ref' });
  async run() {
    return (await import('../ops/secrets')).deleteSecret(this.io(), this.ref);
  }
}
