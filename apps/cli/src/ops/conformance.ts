import type { CommandIO } from '../base-command';
import { CliError } from '../cli-error';
import type { Session } from '../session';
import { packModule } from './pack-module';

/**
 * Run @greentic/conformance against an installed deployer. The pack's package names its fixtures factory in its
 * declaration (`greentic.packs[].conformance`), next to the pack factory.
 */
export async function runPackConformance(io: CommandIO, s: Session, packId: string): Promise<number> {
  const reg = s.registry.describe(packId);
  if (reg.slot !== 'deployer') {
    throw new CliError('usage', `${packId} fills the ${reg.slot} slot; the conformance suite is for deployers`, {
      code: 'unsupported',
    });
  }
  const loaded = await packModule(s.registry, packId);
  if (!loaded) {
    throw new CliError(
      'usage',
      `${packId} was registered in-process; run its suite with describeDeployer in its tests`,
      {
        code: 'unsupported',
      },
    );
  }
  const exportName = loaded.pkg.greentic?.packs?.find((p) => p.id === packId)?.conformance;
  if (!exportName) {
    throw new CliError('usage', `${loaded.packageName} declares no conformance fixtures for ${packId}`, {
      code: 'unsupported',
      hint: `add "conformance": "<export>" to its greentic.packs entry, naming a function that returns DeployerFixtures`,
    });
  }
  const create = loaded.mod[exportName];
  if (typeof create !== 'function') {
    throw new CliError('failed', `${loaded.packageName} exports no function ${exportName}`, { code: 'invalid-pack' });
  }
  const { runConformance } = await import('@greentic/conformance');
  const report = await runConformance({
    name: packId,
    create: () => (create as () => never)(),
    onResult: (r) => {
      if (!io.json)
        io.out.line(
          `${r.passed ? io.out.style('green', 'pass') : io.out.style('red', 'FAIL')}  ${r.id} (${r.durationMs} ms)${r.error ? `\n      ${r.error}` : ''}`,
        );
    },
  });
  if (io.json) io.out.json(report);
  else
    io.out.line(
      report.passed
        ? `${packId} conforms (${report.checks.length} checks, ${report.durationMs} ms)`
        : `${packId} does not conform: ${report.failed.join(', ')}`,
    );
  return report.passed ? 0 : 7;
}
