import { Command, Option } from 'clipanion';
import { EnvCommand, GtcCommand } from '../base-command';
import { isName, isPackId } from './validators';

export class EnvListCommand extends GtcCommand {
  static override paths = [['op', 'env', 'list']];
  static override usage = Command.Usage({
    category: 'Environments',
    description: 'List environments with their env-packs',
    examples: [
      ['List every environment', '$0 op env list'],
      ['The same as JSON', '$0 op env list --json'],
    ],
  });
  async run() {
    return (await import('../ops/environments')).listEnvironments(this.io());
  }
}

export class EnvGetCommand extends GtcCommand {
  static override paths = [['op', 'env', 'get']];
  static override usage = Command.Usage({
    category: 'Environments',
    description: 'Show one environment: slots, config, version',
    examples: [['Show the local environment', '$0 op env get local']],
  });
  name = Option.String({ name: 'env', validator: isName });
  async run() {
    return (await import('../ops/environments')).getEnvironment(this.io(), this.name);
  }
}

export class EnvCreateCommand extends GtcCommand {
  static override paths = [['op', 'env', 'create']];
  static override usage = Command.Usage({
    category: 'Environments',
    description: 'Create an environment with a deployer and a secrets pack',
    details: `
      Without \`--deployer\` and \`--secrets\` the environment gets the local defaults
      (greentic.deployer.local-process and greentic.secrets.file). Config is non-secret: secrets go through
      \`gtc op secrets set\`.
    `,
    examples: [
      ['Create staging with the default packs', '$0 op env create staging'],
      [
        'Create a Kubernetes environment with config',
        '$0 op env create zain-prod --deployer greentic.deployer.k8s --config namespace=zain --label team=telco',
      ],
    ],
  });
  name = Option.String({ name: 'env', validator: isName });
  deployer = Option.String('--deployer', { validator: isPackId, description: 'Deployer env-pack id' });
  secrets = Option.String('--secrets', { validator: isPackId, description: 'Secrets env-pack id' });
  config = Option.Array('--config', { description: 'Non-secret setting key=value (repeatable)' });
  labels = Option.Array('--label', { description: 'Label key=value (repeatable)' });
  async run() {
    return (await import('../ops/environments')).createEnvironment(this.io(), {
      name: this.name,
      deployer: this.deployer,
      secrets: this.secrets,
      config: this.config ?? [],
      labels: this.labels ?? [],
    });
  }
}

export class EnvDeleteCommand extends GtcCommand {
  static override paths = [['op', 'env', 'delete']];
  static override usage = Command.Usage({
    category: 'Environments',
    description: 'Delete an environment (refused while it has deployments)',
    examples: [['Delete staging', '$0 op env delete staging']],
  });
  name = Option.String({ name: 'env', validator: isName });
  async run() {
    return (await import('../ops/environments')).deleteEnvironment(this.io(), this.name);
  }
}

export class EnvApplyCommand extends GtcCommand {
  static override paths = [['op', 'env', 'apply']];
  static override usage = Command.Usage({
    category: 'Environments',
    description: 'Converge an environment to a manifest (YAML or JSON)',
    details: `
      Prints the plan (what will be created, changed, removed) before changing anything. \`--dry-run\` stops
      after the plan; \`--check\` changes nothing and exits 7 when the store has not converged to the manifest
      (a CI gate). Applying the same manifest twice changes nothing the second time. Revisions listed in the
      manifest are staged; traffic is set only when every revision it names is ready.
    `,
    examples: [
      ['Apply a manifest', '$0 op env apply -f env.yaml'],
      ['Show the plan only', '$0 op env apply -f env.yaml --dry-run'],
      ['Fail CI when the environment drifted', '$0 op env apply -f env.yaml --check'],
    ],
  });
  file = Option.String('-f,--file', { required: true, description: 'Manifest file (YAML or JSON), - for stdin' });
  dryRun = Option.Boolean('--dry-run', false, { description: 'Print the plan and change nothing' });
  check = Option.Boolean('--check', false, { description: 'Exit 7 when not converged; change nothing' });
  async run() {
    return (await import('../ops/apply')).applyManifest(this.io(), {
      file: this.file,
      dryRun: this.dryRun,
      check: this.check,
    });
  }
}

export class EnvRenderCommand extends GtcCommand {
  static override paths = [['op', 'env', 'render']];
  static override usage = Command.Usage({
    category: 'Environments',
    description: "Write the environment's declarative files (e.g. Kubernetes manifests) to a folder",
    details: `
      Asks the environment's deployer to render its files. Files it wrote before for retired revisions are
      removed; no other file in the folder is touched. Prints what was added, changed and removed.
    `,
    examples: [['Render zain-prod to ./k8s', '$0 op env render zain-prod --out ./k8s']],
  });
  name = Option.String({ name: 'env', validator: isName });
  outDir = Option.String('--out', { required: true, description: 'Folder to write into' });
  async run() {
    return (await import('../ops/render')).renderEnvironment(this.io(), this.name, this.outDir);
  }
}

export class StatusCommand extends EnvCommand {
  static override paths = [['op', 'status']];
  static override usage = Command.Usage({
    category: 'Environments',
    description: 'What runs where, and drift between the store and the live system',
    details: `
      Reads the store's revisions and traffic, asks the deployer for the live truth (never copied from the
      store), and lists every difference. Exits 7 when there is drift.
    `,
    examples: [
      ['Status of the local environment', '$0 op status'],
      ['Status of one deployment in staging', '$0 op status support --env staging'],
    ],
  });
  deployment = Option.String({ name: 'deployment', required: false, validator: isName });
  async run() {
    return (await import('../ops/status')).showStatus(this.io(), this.deployment);
  }
}
