import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CommandIO } from '../base-command';
import { CliError } from '../cli-error';
import type { Session } from '../session';

interface PackageJson {
  main?: string;
  exports?: unknown;
  greentic?: { packs?: { id: string; conformance?: string }[] };
}

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
  if (!reg.packageDir) {
    throw new CliError(
      'usage',
      `${packId} was registered in-process; run its suite with describeDeployer in its tests`,
      { code: 'unsupported' },
    );
  }
  const pkg = JSON.parse(readFileSync(join(reg.packageDir, 'package.json'), 'utf8')) as PackageJson;
  const exportName = pkg.greentic?.packs?.find((p) => p.id === packId)?.conformance;
  if (!exportName) {
    throw new CliError('usage', `${reg.packageName} declares no conformance fixtures for ${packId}`, {
      code: 'unsupported',
      hint: `add "conformance": "<export>" to its greentic.packs entry, naming a function that returns DeployerFixtures`,
    });
  }
  const dot = (pkg.exports as Record<string, unknown> | undefined)?.['.'];
  const entry =
    typeof dot === 'string'
      ? dot
      : (((dot as Record<string, unknown> | undefined)?.default as string | undefined) ?? pkg.main ?? 'index.js');
  const mod = (await import(pathToFileURL(join(reg.packageDir, entry)).href)) as Record<string, unknown>;
  const create = mod[exportName];
  if (typeof create !== 'function') {
    throw new CliError('failed', `${reg.packageName} exports no function ${exportName}`, { code: 'invalid-pack' });
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
