import { existsSync } from 'node:fs';
import { join } from 'node:path';
// The host-release package's throwaway host: a real OpenSSH server on 127.0.0.1 with generated keys, and a small
// supervisor standing in for systemd, so the CLI is tested against the same kind of host as the pack itself.
import { freePort, makeRepo, type Repo, startTestHost, type TestHost } from '@greentic/deployer-host-release';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../src/index';
import { type GtcResult, gtc, tempDir } from './helpers';

describe('gtc op host (exact-commit releases over ssh)', { timeout: 120_000 }, () => {
  let host: TestHost;
  let repo: Repo;
  let home: { dir: string; remove: () => void };
  let root: string;
  const env = () => ({ GREENTIC_HOME: join(home.dir, 'home') });
  const run = (argv: string[]): Promise<GtcResult> => gtc(argv, { env: env(), cwd: home.dir });

  beforeAll(async () => {
    host = await startTestHost();
    repo = makeRepo(host.dir);
    home = tempDir('gtc-host-');
    root = join(host.dir, 'root-cli');
    const t = host.target(root, await freePort()) as unknown as {
      port: number;
      user: string;
      service: { name: string; restart: string; status: string };
    };
    const config = {
      host: '127.0.0.1',
      port: t.port,
      user: t.user,
      identityFile: host.identityFile,
      knownHostsFile: host.knownHostsFile,
      root,
      worktree: repo.dir,
      instanceStart: 'true',
      instanceStop: 'true',
      instanceStatus: 'true',
      serviceName: t.service.name,
      restartCommand: t.service.restart,
      statusCommand: t.service.status,
      connectTimeoutSeconds: 5,
      verifyTimeoutMs: 5000,
    };
    const args = Object.entries(config).flatMap(([k, v]) => ['--config', `${k}=${v}`]);
    const created = await run(['op', 'env', 'create', 'agents', '--deployer', 'greentic.deployer.host-release']);
    expect(created.code, created.stderr).toBe(0);
    const attached = await run([
      'op',
      'env-packs',
      'attach',
      'greentic.deployer.host-release',
      '--env',
      'agents',
      ...args,
    ]);
    expect(attached.code, attached.stderr).toBe(0);
  });

  afterAll(async () => {
    await host?.stop();
    home?.remove();
  });

  it('prints the plan of a promote and changes nothing without --apply', async () => {
    repo.commit('v1');
    const r = await run(['op', 'host', 'promote', '--env', 'agents', '--label', 'v1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('dry run');
    expect(r.stdout).toContain(`${root}/current`);
    expect(existsSync(join(root, 'current'))).toBe(false);
  });

  it('promotes, records the truth in the store, reports no drift, smoke-checks, and rolls back', async () => {
    const sha1 = repo.commit('v1 again');
    const p1 = await run(['op', 'host', 'promote', '--env', 'agents', '--label', 'v1', '--apply']);
    expect(p1.code, p1.stdout + p1.stderr).toBe(0);
    expect(existsSync(join(root, 'current'))).toBe(true);
    const truth = await run(['op', 'config', 'get', 'host-release.truth', '--env', 'agents']);
    expect(JSON.parse(truth.stdout)).toMatchObject({ sha: sha1, label: 'v1' });
    expect((await run(['op', 'host', 'status', '--env', 'agents'])).code).toBe(0);
    expect((await run(['op', 'host', 'smoke', '--env', 'agents', '--sha', sha1])).code).toBe(0);

    repo.commit('v2');
    expect((await run(['op', 'host', 'promote', '--env', 'agents', '--label', 'v2', '--apply'])).code).toBe(0);
    const back = await run(['op', 'host', 'rollback', '--env', 'agents', '--apply', '--json']);
    expect(back.code, back.stdout + back.stderr).toBe(0);
    expect(back.json<{ outcome: string }>().outcome).toBe('rolled-back');
    const after = await run(['op', 'config', 'get', 'host-release.truth', '--env', 'agents']);
    expect(JSON.parse(after.stdout)).toMatchObject({ sha: sha1 });
    expect((await run(['op', 'host', 'status', '--env', 'agents'])).code).toBe(0);
  });

  it('refuses host commands in an environment that is not deployed to a host, naming the fix', async () => {
    const r = await run(['op', 'host', 'status', '--env', 'local']);
    expect(r.code).toBe(EXIT_CODES.usage);
    expect(r.stderr).toContain('host commands need greentic.deployer.host-release');
  });
});
