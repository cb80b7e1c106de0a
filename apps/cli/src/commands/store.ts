import { Command, Option } from 'clipanion';
import { GtcCommand } from '../base-command';

export class StoreBackupCommand extends GtcCommand {
  static override paths = [['op', 'store', 'backup']];
  static override usage = Command.Usage({
    category: 'Store',
    description: 'Write an online, consistent backup of the store plus its manifest of hashes',
    examples: [['Back up to a file', '$0 op store backup ./greentic-2026-06-15.db']],
  });
  file = Option.String({ name: 'file' });
  async run() {
    return (await import('../ops/store-admin')).backupStore(this.io(), this.file);
  }
}

export class StoreRestoreCommand extends GtcCommand {
  static override paths = [['op', 'store', 'restore']];
  static override usage = Command.Usage({
    category: 'Store',
    description: 'Verify a backup completely, then replace the live store with it',
    details: 'A backup older than the live state is refused unless `--force` (which the audit records).',
    examples: [
      ['Restore', '$0 op store restore ./greentic-2026-06-15.db'],
      ['Restore an older backup on purpose', '$0 op store restore ./old.db --force'],
    ],
  });
  file = Option.String({ name: 'file' });
  force = Option.Boolean('--force', false, { description: 'Restore even when the backup is older than the store' });
  async run() {
    return (await import('../ops/store-admin')).restoreStore(this.io(), this.file, this.force);
  }
}

export class StoreVerifyCommand extends GtcCommand {
  static override paths = [['op', 'store', 'verify']];
  static override usage = Command.Usage({
    category: 'Store',
    description: "Check every object's hash (and the audit chain); exits 7 naming each corrupt object",
    examples: [['Verify the store', '$0 op store verify']],
  });
  async run() {
    return (await import('../ops/store-admin')).verifyStore(this.io());
  }
}
