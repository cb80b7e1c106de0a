import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
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
  let hygieneRoot: string;
  const env = () => ({ GREENTIC_HOME: join(home.dir, 'home') });
  const run = (argv: string[]): Promise<GtcResult> => gtc(argv, { env: env(), cwd: home.dir });

  beforeAll(async () => {
    host = await startTestHost();
    repo = makeRepo(host.dir);
    home = tempDir('gtc-host-');
    root = join(host.dir, 'root-cli');
    hygieneRoot = join(host.dir, 'root-hygiene');
    await attachHost('agents', root);
    // Hygiene after every promote is off here (keepReleases=0), so the releases stay for `host prune` to decide on.
    await attachHost('hygiene', hygieneRoot, { keepReleases: 0 });
  });

  /** An environment deployed by greentic.deployer.host-release to the throwaway host, on its own release root. */
  async function attachHost(name: string, at: string, extra: Record<string, string | number> = {}): Promise<void> {
    const t = host.target(at, await freePort()) as unknown as {
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
      root: at,
      worktree: repo.dir,
      instanceStart: 'true',
      instanceStop: 'true',
      instanceStatus: 'true',
      serviceName: t.service.name,
      restartCommand: t.service.restart,
      statusCommand: t.service.status,
      connectTimeoutSeconds: 5,
      verifyTimeoutMs: 5000,
      ...extra,
    };
    const args = Object.entries(config).flatMap(([k, v]) => ['--config', `${k}=${v}`]);
    const created = await run(['op', 'env', 'create', name, '--deployer', 'greentic.deployer.host-release']);
    expect(created.code, created.stderr).toBe(0);
    const attached = await run(['op', 'env-packs', 'attach', 'greentic.deployer.host-release', '--env', name, ...args]);
    expect(attached.code, attached.stderr).toBe(0);
  }

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

  // Six promotions (one waits out a failed verify) and a rollback over ssh: 50–65 s on the shared 2-core
  // machine at load 6, so it gets twice the budget of the file's other tests.
  it('prunes nothing without --apply, then keeps current, the rollback target and the newest good releases', {
    timeout: 240_000,
  }, async () => {
    const rel = (sha: string, label: string) => join(hygieneRoot, 'releases', `${sha}-${label}`);
    const promote = (label: string) => run(['op', 'host', 'promote', '--env', 'hygiene', '--label', label, '--apply']);
    const h1 = repo.commit('h1');
    expect((await promote('h1')).code).toBe(0);
    const h2 = repo.commit('h2');
    expect((await promote('h2')).code).toBe(0);
    const bad = repo.commit('broken build', { healthy: false });
    const failed = await promote('bad');
    expect(failed.code, failed.stdout + failed.stderr).toBe(7); // verify failed, rolled back, marked failed
    const h3 = repo.commit('h3');
    expect((await promote('h3')).code).toBe(0);
    const h4 = repo.commit('h4');
    expect((await promote('h4')).code).toBe(0);
    // back to the oldest: h1 is current, h4 the rollback target
    const back = await run(['op', 'host', 'rollback', '--env', 'hygiene', '--to', `${h1}-h1`, '--apply']);
    expect(back.code, back.stdout + back.stderr).toBe(0);
    const before = readdirSync(join(hygieneRoot, 'releases')).sort();
    expect(before).toContain(`${bad}-bad.failed`);

    // The failed promotion is not a good release: with --keep 3 the third good one (h2) stays, only bad goes.
    const three = await run(['op', 'host', 'prune', '--env', 'hygiene', '--keep', '3', '--json']);
    expect(three.code, three.stdout + three.stderr).toBe(0);
    const plan3 = three.json<{ outcome: string; keep: { path: string }[]; remove: { path: string; why: string }[] }>();
    expect(plan3.outcome).toBe('dry-run');
    expect(plan3.keep.map((k) => k.path).sort()).toEqual(
      [rel(h1, 'h1'), rel(h2, 'h2'), rel(h3, 'h3'), rel(h4, 'h4')].sort(),
    );
    expect(plan3.remove.map((k) => k.path)).toEqual([rel(bad, 'bad')]);

    const dry = await run(['op', 'host', 'prune', '--env', 'hygiene', '--keep', '2']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('dry run: nothing will change');
    expect(dry.stdout).toContain(`keep    ${rel(h1, 'h1')} (current)`);
    expect(dry.stdout).toContain(`keep    ${rel(h4, 'h4')} (rollback target)`);
    expect(dry.stdout).toContain(`keep    ${rel(h3, 'h3')} (one of the last 2 good releases)`);
    expect(dry.stdout).toContain(`remove  ${rel(h2, 'h2')} (older than the last 2 good releases)`);
    expect(dry.stdout).toContain(`remove  ${rel(bad, 'bad')} (failed`);
    expect(dry.stderr).toContain('to remove the 2 paths listed: gtc op host prune --env hygiene --keep 2 --apply');
    expect(readdirSync(join(hygieneRoot, 'releases')).sort()).toEqual(before);

    const done = await run(['op', 'host', 'prune', '--env', 'hygiene', '--keep', '2', '--apply', '--json']);
    expect(done.code, done.stdout + done.stderr).toBe(0);
    expect(done.json<{ outcome: string }>().outcome).toBe('pruned');
    expect(readdirSync(join(hygieneRoot, 'releases')).sort()).toEqual([`${h1}-h1`, `${h3}-h3`, `${h4}-h4`].sort());
    expect((await run(['op', 'host', 'smoke', '--env', 'hygiene', '--sha', h1])).code).toBe(0);
    expect((await run(['op', 'host', 'rollback', '--env', 'hygiene', '--apply'])).code).toBe(0); // h4 is still there
  });

  it('captures a package version and its pinned binary, records it in the store, and notes what changed', async () => {
    const dpkgFormat = ['-f=$', '{Version}'].join(''); // dpkg's own ${Version} field syntax, not a JS template
    const version = execFileSync('dpkg-query', ['-W', dpkgFormat, 'openssh-server'], { encoding: 'utf8' });
    const capture = (...extra: string[]) =>
      run(['op', 'host', 'pkg', 'capture', '--env', 'hygiene', '--package', 'openssh-server', ...extra]);
    const first = await capture('--binary', '/usr/sbin/sshd', '--json');
    expect(first.code, first.stdout + first.stderr).toBe(0);
    const report = first.json<{
      recordKey: string;
      entry: { seq: number; changed: string[]; capture: { version: string; resolvedBinary: string } };
    }>();
    expect(report.recordKey).toBe('host-release.pkg.openssh-server');
    expect(report.entry.capture).toMatchObject({ version, resolvedBinary: '/usr/sbin/sshd' });
    expect(report.entry.changed).toEqual(['first capture']);
    const recorded = await run(['op', 'config', 'get', 'host-release.pkg.openssh-server', '--env', 'hygiene']);
    expect(JSON.parse(recorded.stdout)).toMatchObject({ package: 'openssh-server', version, seq: 1 });

    const second = await capture('--binary', '/usr/sbin/sshd', '--version-command', 'echo 9.9-test');
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain('version:   9.9-test');
    expect(second.stdout).toContain(`changed:   version: ${version} → 9.9-test`);
    const after = await run(['op', 'config', 'get', 'host-release.pkg.openssh-server', '--env', 'hygiene']);
    expect(JSON.parse(after.stdout)).toMatchObject({ version: '9.9-test', seq: 2 });
    const audit = await run(['op', 'audit', 'list', '--env', 'hygiene', '--json']);
    const actions = audit.json<{ entries: { action: string; actor: string }[] }>().entries.map((e) => e.action);
    expect(actions.filter((a) => a === 'config.set').length).toBeGreaterThanOrEqual(2);

    const missing = await run(['op', 'host', 'pkg', 'capture', '--env', 'hygiene', '--package', 'no-such-pkg']);
    expect(missing.code).toBe(EXIT_CODES['not-found']);
    expect(missing.stderr).toContain('package no-such-pkg is not installed on');
  });

  it('says honestly that package promote and rollback are not automated, what they would do, and exits 3', async () => {
    const before = readdirSync(hygieneRoot).sort();
    const p = await run([
      'op',
      'host',
      'pkg',
      'promote',
      '--env',
      'hygiene',
      '--package',
      'agent',
      '--version',
      '1.4.2',
      '--binary',
      '/usr/local/bin/agent',
    ]);
    expect(p.code).toBe(EXIT_CODES['not-found']);
    expect(p.stdout).toContain('promote of package agent on');
    expect(p.stdout).toContain('NOT AUTOMATED YET — nothing was changed');
    expect(p.stdout).toContain('apt-get install agent=1.4.2');
    expect(p.stdout).toContain('last capture: none of agent');
    expect(p.stderr).toContain('gtc op host pkg capture --env hygiene --package agent --binary /usr/local/bin/agent');

    const r = await run(['op', 'host', 'pkg', 'rollback', '--env', 'hygiene', '--package', 'openssh-server', '--json']);
    expect(r.code).toBe(EXIT_CODES['not-found']);
    const body = r.json<{ outcome: string; operation: string; wouldDo: string[]; lastCapture: { seq: number } }>();
    expect(body).toMatchObject({ outcome: 'not-automated', operation: 'rollback', lastCapture: { seq: 2 } });
    expect(body.wouldDo[0]).toContain('last good capture');
    expect(readdirSync(hygieneRoot).sort()).toEqual(before);
  });
});
