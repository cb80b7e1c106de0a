import { Command, Option } from 'clipanion';
import { EnvCommand } from '../base-command';
import { isPackageName, isPackageVersion, isPositive } from './validators';

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

export class HostPruneCommand extends EnvCommand {
  static override paths = [['op', 'host', 'prune']];
  static override usage = Command.Usage({
    category: 'Hosts (releases over ssh)',
    description:
      'Release hygiene: keep the last N good releases, current and the rollback target (dry run unless --apply)',
    details: `
      Never removes current, the rollback target or a release a revision instance uses; failed promotions never count
      among the N good releases and are removed unless protected; staging leftovers older than an hour go too.
      Without --apply it prints every release it would keep and remove, with why, and changes nothing. --keep
      defaults to the deployer config's keepReleases, else 5.
    `,
    examples: [
      ['See what hygiene would remove', '$0 op host prune --env agents'],
      ['Keep the last 3 good releases, remove the rest', '$0 op host prune --env agents --keep 3 --apply'],
    ],
  });
  keep = Option.String('--keep', {
    validator: isPositive,
    description: 'Good releases to keep (default: config, else 5)',
  });
  apply = Option.Boolean('--apply', false, { description: 'Remove them (default: dry run)' });
  async run() {
    return (await import('../ops/host')).pruneHost(this.io(), { keep: this.keep, apply: this.apply });
  }
}

// Seed 002, archetype B: a runtime installed as a package and selected by a pinned binary or symlink. Capture-first:
// capture records and audits what is installed; promote and rollback say what they would do and change nothing.

export class HostPkgCaptureCommand extends EnvCommand {
  static override paths = [['op', 'host', 'pkg', 'capture']];
  static override usage = Command.Usage({
    category: 'Hosts (releases over ssh)',
    description: 'Record the installed version of a package and the file its pinned binary selects (read-only)',
    details: `
      Reads, over ssh, the installed version (dpkg-query, or --version-command) and what --binary really points at
      (readlink -f and its sha256). Appends it to the hash-chained capture log in the pack state folder
      ($GREENTIC_HOME/state/<env>/greentic.deployer.host-release/packages.jsonl), naming what changed since the
      previous capture, and records it in the store as the config key host-release.pkg.<package> (audited like every
      store change). Exits 3 when the package is not installed or the binary does not exist (still recorded).
    `,
    examples: [
      [
        'Capture the agent package and its pinned binary',
        '$0 op host pkg capture --env agents --package agent --binary /usr/local/bin/agent',
      ],
      [
        'Capture a package whose version dpkg does not know',
        "$0 op host pkg capture --env agents --package agent --version-command 'agent --version'",
      ],
    ],
  });
  package = Option.String('--package', {
    required: true,
    validator: isPackageName,
    description: 'Debian package name',
  });
  binary = Option.String('--binary', { description: 'The binary or symlink that selects the version on the host' });
  versionCommand = Option.String('--version-command', {
    description: 'Shell command on the host printing the version (default: the Version field of dpkg-query)',
  });
  async run() {
    return (await import('../ops/host')).capturePackageOnHost(this.io(), {
      package: this.package,
      binary: this.binary,
      versionCommand: this.versionCommand,
    });
  }
}

export class HostPkgPromoteCommand extends EnvCommand {
  static override paths = [['op', 'host', 'pkg', 'promote']];
  static override usage = Command.Usage({
    category: 'Hosts (releases over ssh)',
    description: 'Not automated yet: prints the steps a package promote would take, changes nothing, exits 3',
    details: `
      Package-pin releases are captured and audited before they are automated (seed 002, archetype B): until a
      package source is configured for the host this command changes nothing. It prints what it would do, in order
      (capture, install the pinned version, re-point the binary atomically, restart, verify, re-pin on failure),
      and exits 3 (not-found, code not-automated) so that no script mistakes it for a promotion.
    `,
    examples: [
      [
        'See what promoting agent 1.4.2 would do',
        '$0 op host pkg promote --env agents --package agent --version 1.4.2 --binary /usr/local/bin/agent',
      ],
    ],
  });
  package = Option.String('--package', {
    required: true,
    validator: isPackageName,
    description: 'Debian package name',
  });
  version = Option.String('--version', {
    required: true,
    validator: isPackageVersion,
    description: 'The package version to promote',
  });
  binary = Option.String('--binary', { description: 'The binary or symlink that selects the version on the host' });
  async run() {
    return (await import('../ops/host')).packageNotAutomated(this.io(), {
      operation: 'promote',
      package: this.package,
      version: this.version,
      binary: this.binary,
    });
  }
}

export class HostPkgRollbackCommand extends EnvCommand {
  static override paths = [['op', 'host', 'pkg', 'rollback']];
  static override usage = Command.Usage({
    category: 'Hosts (releases over ssh)',
    description: 'Not automated yet: prints the steps a package rollback would take, changes nothing, exits 3',
    details: `
      Like pkg promote: until a package source is configured for the host it changes nothing, prints what it would
      do (re-install the version of the last capture, re-point the binary, restart, verify) together with the captures
      recorded so far, and exits 3 (not-found, code not-automated).
    `,
    examples: [['See what rolling agent back would do', '$0 op host pkg rollback --env agents --package agent']],
  });
  package = Option.String('--package', {
    required: true,
    validator: isPackageName,
    description: 'Debian package name',
  });
  binary = Option.String('--binary', { description: 'The binary or symlink that selects the version on the host' });
  async run() {
    return (await import('../ops/host')).packageNotAutomated(this.io(), {
      operation: 'rollback',
      package: this.package,
      binary: this.binary,
    });
  }
}
