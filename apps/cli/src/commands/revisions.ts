import { Command, Option } from 'clipanion';
import { EnvCommand } from '../base-command';
import { isName, isSeconds } from './validators';

export class RevisionsStageCommand extends EnvCommand {
  static override paths = [['op', 'revisions', 'stage']];
  static override usage = Command.Usage({
    category: 'Revisions',
    description: 'Stage a new immutable revision of a deployment from a published bundle version',
    details: `
      The revision id defaults to the next free rN. Its config is the environment's pack config finalized now;
      its secret references are the bundle's. Staging serves nothing: warm it, then move traffic.
    `,
    examples: [
      ['Stage the newest published version', '$0 op revisions stage support'],
      ['Stage version 1.1.0 as r8', '$0 op revisions stage support --bundle-version 1.1.0 --id r8'],
    ],
  });
  deployment = Option.String({ name: 'deployment', validator: isName });
  bundleVersion = Option.String('--bundle-version', { description: 'Bundle version (default: the newest)' });
  id = Option.String('--id', { validator: isName, description: 'Revision id (default: the next rN)' });
  async run() {
    return (await import('../ops/revisions')).stageRevision(this.io(), {
      deployment: this.deployment,
      bundleVersion: this.bundleVersion,
      id: this.id,
    });
  }
}

export class RevisionsWarmCommand extends EnvCommand {
  static override paths = [['op', 'revisions', 'warm']];
  static override usage = Command.Usage({
    category: 'Revisions',
    description: 'Start a staged revision and wait for its health gate (→ ready, or failed)',
    examples: [
      ['Warm r8 of support', '$0 op revisions warm support r8'],
      ['Give it two minutes', '$0 op revisions warm support r8 --timeout 120'],
    ],
  });
  deployment = Option.String({ name: 'deployment', validator: isName });
  revision = Option.String({ name: 'revision', validator: isName });
  timeout = Option.String('--timeout', '60', { validator: isSeconds, description: 'Seconds to wait (default 60)' });
  async run() {
    return (await import('../ops/revisions')).moveRevision(
      this.io(),
      'warm',
      this.deployment,
      this.revision,
      this.timeout,
    );
  }
}

export class RevisionsDrainCommand extends EnvCommand {
  static override paths = [['op', 'revisions', 'drain']];
  static override usage = Command.Usage({
    category: 'Revisions',
    description: 'Stop new sessions on a revision, let in-flight work finish, stop its workers',
    details: 'Refused while the revision holds traffic: move its traffic first with `gtc op traffic set`.',
    examples: [['Drain r7 of support', '$0 op revisions drain support r7']],
  });
  deployment = Option.String({ name: 'deployment', validator: isName });
  revision = Option.String({ name: 'revision', validator: isName });
  timeout = Option.String('--timeout', '60', { validator: isSeconds, description: 'Seconds to wait (default 60)' });
  async run() {
    return (await import('../ops/revisions')).moveRevision(
      this.io(),
      'drain',
      this.deployment,
      this.revision,
      this.timeout,
    );
  }
}

export class RevisionsArchiveCommand extends EnvCommand {
  static override paths = [['op', 'revisions', 'archive']];
  static override usage = Command.Usage({
    category: 'Revisions',
    description: 'Remove what is left of a drained, failed or never-warmed revision (final)',
    examples: [['Archive r7 of support', '$0 op revisions archive support r7']],
  });
  deployment = Option.String({ name: 'deployment', validator: isName });
  revision = Option.String({ name: 'revision', validator: isName });
  async run() {
    return (await import('../ops/revisions')).moveRevision(this.io(), 'archive', this.deployment, this.revision, 60);
  }
}

export class RevisionsListCommand extends EnvCommand {
  static override paths = [['op', 'revisions', 'list']];
  static override usage = Command.Usage({
    category: 'Revisions',
    description: 'List the revisions of a deployment with state and weight',
    examples: [['Revisions of support', '$0 op revisions list support']],
  });
  deployment = Option.String({ name: 'deployment', validator: isName });
  async run() {
    return (await import('../ops/revisions')).listRevisions(this.io(), this.deployment);
  }
}

export class RevisionsGetCommand extends EnvCommand {
  static override paths = [['op', 'revisions', 'get']];
  static override usage = Command.Usage({
    category: 'Revisions',
    description: 'Show one revision',
    examples: [['Show r8 of support', '$0 op revisions get support r8']],
  });
  deployment = Option.String({ name: 'deployment', validator: isName });
  revision = Option.String({ name: 'revision', validator: isName });
  async run() {
    return (await import('../ops/revisions')).getRevision(this.io(), this.deployment, this.revision);
  }
}
