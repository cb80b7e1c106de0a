import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../src/index';
import { gtc, tempDir } from './helpers';

describe('gtc op env-packs conformance', () => {
  let home: { dir: string; remove: () => void };
  let env: Record<string, string>;
  beforeAll(() => {
    home = tempDir('gtc-conformance-');
    env = { GREENTIC_HOME: join(home.dir, 'home') };
  });
  afterAll(() => home.remove());

  it('runs the whole suite on the installed local-process deployer and reports every check', async () => {
    const r = await gtc(['op', 'env-packs', 'conformance', 'greentic.deployer.local-process', '--json'], { env });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const report = r.json<{ passed: boolean; checks: { id: string; passed: boolean }[] }>();
    expect(report.passed).toBe(true);
    expect(report.checks.map((c) => c.id)).toEqual(
      expect.arrayContaining(['idempotent-lifecycle', 'archive-refused-with-weight', 'status-drift', 'isolation']),
    );
  }, 120_000);

  it('names the installed packs when the pack is unknown, and refuses a pack that is not a deployer', async () => {
    const unknown = await gtc(['op', 'env-packs', 'conformance', 'greentic.deployer.nope'], { env });
    expect(unknown.code).toBe(EXIT_CODES['not-found']);
    expect(unknown.stderr).toContain('greentic.deployer.local-process');
    const secrets = await gtc(['op', 'env-packs', 'conformance', 'greentic.secrets.file'], { env });
    expect(secrets.code).toBe(EXIT_CODES.usage);
    expect(secrets.stderr).toContain('fills the secrets slot');
  });
});
