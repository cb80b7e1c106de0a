import { Command, Option } from 'clipanion';
import { EnvCommand } from '../base-command';
import { isPositive } from './validators';

// Seed 002, archetype A: exact-commit releases on a host over ssh, through the environment's
// greentic.deployer.host-release pack. Every mutating command is a dry run unless --apply.

export class HostPromoteCommand extends EnvCommand {
  static override paths = [['op', 'host', 'promote']];
  static override usage = Command.Usage({
    category: 'Hosts (releases over ssh)',
    description: 'Ship an exact commit as an immutable release, flip current, restart, verify (dry run unless --apply)',
    details: `
      The host comes from the environment's deployer config (greentic.deployer.host-release). Without --apply it
      prints exactly what it would touch (host, commit, release path, symlink, service) and changes nothing. A
      failed verify rolls back to the recorded release and exits 7. The truth of what now runs is recorded in the
      store (config key host-release.truth).
    `,
    examples: [
      ['See what a promote would do', '$0 op host promote --env agents --label v1.4.2'],
      ['Do it', '$0 op host promote --env agents --label v1.4.2 --ref v1.4.2 --apply'],
    ],
  });
  label = Option.String('--label', { required: true, description: 'Release label (the <label> of <sha>-<label>)' });
  worktree = Option.String('--worktree', { description: 'Git worktree (default: the deployer config, else .)' });
  ref = Option.String('--ref', { description: 'Git ref to ship (default HEAD)' });
  apply = Option.Boolean('--apply', false, { description: 'Change the host (default: dry run)' });
  keep = Option.String('--keep', { validator: isPositive, description: 'Releases to keep after a verified promote' });
  async run() {
    return (await import('../ops/host')).promoteOnHost(this.io(), {
      label: this.label,
      worktree: this.worktree,
      ref: this.ref,
      apply: this.apply,
      keep: this.keep,
    });
  }
}

export class HostRollbackCommand extends EnvCommand {
  static override paths = [['op', 'host', 'rollback']];
  static override usage = Command.Usage({
    category: 'Hosts (releases over ssh)',
    description: 'Flip current back to the recorded (or a named) release, restart, verify (dry run unless --apply)',
    examples: [
      ['See what a rollback would do', '$0 op host rollback --env agents'],
      ['Roll back to a named release', '$0 op host rollback --env agents --to 3f2a9c01b4de-v1.4.1 --apply'],
    ],
  });
  to = Option.String('--to', { description: 'Release directory name or absolute path (default: the recorded one)' });
  apply = Option.Boolean('--apply', false, { description: 'Change the host (default: dry run)' });
  async run() {
    return (await import('../ops/host')).rollbackOnHost(this.io(), { to: this.to, apply: this.apply });
  }
}

export class HostStatusCommand extends EnvCommand {
  static override paths = [['op', 'host', 'status']];
  static override usage = Command.Usage({
    category: 'Hosts (releases over ssh)',
    description: 'What runs on the host, re-derived from the host (SHA in three tiers), and drift against the store',
    details:
      'Exits 7 on drift. `--update` rewrites only the recorded truth (store and host marker), never the runtime.',
    examples: [
      ['Status of the agents host', '$0 op host status --env agents'],
      ['Accept what runs as the new truth', '$0 op host status --env agents --update'],
    ],
  });
  update = Option.Boolean('--update', false, { description: 'Record the live truth (never touches the runtime)' });
  async run() {
    return (await import('../ops/host')).statusOfHost(this.io(), this.update);
  }
}

export class HostSmokeCommand extends EnvCommand {
  static override paths = [['op', 'host', 'smoke']];
  static override usage = Command.Usage({
    category: 'Hosts (releases over ssh)',
    description: 'Read-only post-promote checks; exits 7 when one fails',
    examples: [['Smoke-check the expected commit', '$0 op host smoke --env agents --sha 3f2a9c01b4de']],
  });
  sha = Option.String('--sha', { description: 'The commit that should be current' });
  async run() {
    return (await import('../ops/host')).smokeHost(this.io(), this.sha);
  }
}
