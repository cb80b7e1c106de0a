import { Command, Option } from 'clipanion';
import { EnvCommand } from '../base-command';

export class CredentialsRequirementsCommand extends EnvCommand {
  static override paths = [['op', 'credentials', 'requirements']];
  static override usage = Command.Usage({
    category: 'Credentials',
    description: "The minimal permissions the environment's deployer needs",
    examples: [['What the zain-prod deployer needs', '$0 op credentials requirements --env zain-prod']],
  });
  async run() {
    return (await import('../ops/credentials')).showRequirements(this.io());
  }
}

export class CredentialsBootstrapCommand extends EnvCommand {
  static override paths = [['op', 'credentials', 'bootstrap']];
  static override usage = Command.Usage({
    category: 'Credentials',
    description: 'Mode B: use a master key once to derive the minimal rules pack (the key is never stored)',
    details: `
      The master key is read from a secret reference or from stdin, used once, and forgotten. The rules pack
      files are written to \`--out\` for an admin to review and apply offline; the store records only the
      requirements and when the bootstrap happened.
    `,
    examples: [
      [
        'From a secret reference',
        '$0 op credentials bootstrap --env zain-prod --master-ref secret://zain-prod/k8s/admin --out ./rules',
      ],
      ['From stdin', 'cat admin.kubeconfig | $0 op credentials bootstrap --env zain-prod --master-stdin --out ./rules'],
    ],
  });
  masterRef = Option.String('--master-ref', { description: 'secret:// reference of the master key' });
  masterStdin = Option.Boolean('--master-stdin', false, { description: 'Read the master key from stdin' });
  outDir = Option.String('--out', { required: true, description: 'Folder for the rules pack files' });
  params = Option.Array('--param', { description: 'Provider parameter key=value (repeatable)' });
  async run() {
    return (await import('../ops/credentials')).bootstrapCredentials(this.io(), {
      masterRef: this.masterRef,
      masterStdin: this.masterStdin,
      outDir: this.outDir,
      params: this.params ?? [],
    });
  }
}

export class CredentialsRotateCommand extends EnvCommand {
  static override paths = [['op', 'credentials', 'rotate']];
  static override usage = Command.Usage({
    category: 'Credentials',
    description: 'Mode A: verify a new minimal key holds exactly the needed rights, then switch to it',
    examples: [
      [
        'Rotate to a new key held in the secrets pack',
        '$0 op credentials rotate --env zain-prod --key-ref secret://zain-prod/k8s/deployer-v2',
      ],
    ],
  });
  keyRef = Option.String('--key-ref', { required: true, description: 'secret:// reference of the new key' });
  params = Option.Array('--param', { description: 'Provider parameter key=value (repeatable)' });
  async run() {
    return (await import('../ops/credentials')).rotateCredentials(this.io(), this.keyRef, this.params ?? []);
  }
}
