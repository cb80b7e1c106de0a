import { Command, Option } from 'clipanion';
import { GtcCommand } from '../base-command';
import { isBundleId } from './validators';

export class BundlesPublishCommand extends GtcCommand {
  static override paths = [['op', 'bundles', 'publish']];
  static override usage = Command.Usage({
    category: 'Bundles',
    description: 'Publish a bundle (a folder with greentic.bundle.json, or that file) to the store',
    details: `
      The content digest is computed from the bundle's canonical JSON and the files of its folder, so the same
      bundle published twice is the same object. \`--version\` overrides the version in the file.
    `,
    examples: [
      ['Publish the sample worker', '$0 op bundles publish examples/hello-worker'],
      ['Publish it again as 1.1.0', '$0 op bundles publish examples/hello-worker --version 1.1.0'],
    ],
  });
  bundlePath = Option.String({ name: 'path' });
  version = Option.String('--version', { description: 'Version to publish as (semver)' });
  async run() {
    return (await import('../ops/bundles')).publishBundle(this.io(), this.bundlePath, this.version);
  }
}

export class BundlesListCommand extends GtcCommand {
  static override paths = [['op', 'bundles', 'list']];
  static override usage = Command.Usage({
    category: 'Bundles',
    description: 'List published bundles',
    examples: [
      ['Every bundle', '$0 op bundles list'],
      ['Versions of one bundle', '$0 op bundles list hello-worker'],
    ],
  });
  id = Option.String({ name: 'bundle-id', required: false, validator: isBundleId });
  async run() {
    return (await import('../ops/bundles')).listBundles(this.io(), this.id);
  }
}

export class BundlesGetCommand extends GtcCommand {
  static override paths = [['op', 'bundles', 'get']];
  static override usage = Command.Usage({
    category: 'Bundles',
    description: 'Show one published bundle version',
    examples: [['Show hello-worker 1.0.0', '$0 op bundles get hello-worker 1.0.0']],
  });
  id = Option.String({ name: 'bundle-id', validator: isBundleId });
  version = Option.String({ name: 'version', required: false });
  async run() {
    return (await import('../ops/bundles')).getBundle(this.io(), this.id, this.version);
  }
}
