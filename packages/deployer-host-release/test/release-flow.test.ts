import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  writeFileSync,
} from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { isEnvPackError } from '@greentic/env-pack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HostTarget, hostStatus, promote, rollback, smoke } from '../src/index';
import { freePort, makeRepo, type Repo, startTestHost, type TestHost } from '../src/throwaway-host';

let host: TestHost;
let repo: Repo;
let n = 0;

beforeAll(async () => {
  host = await startTestHost();
  repo = makeRepo(host.dir);
});
afterAll(async () => {
  await host?.stop();
});

async function freshTarget(extra: Partial<HostTarget> = {}): Promise<HostTarget> {
  n++;
  return host.target(join(host.dir, `root-${n}`), await freePort(), extra);
}

async function served(t: HostTarget): Promise<{ sha: string; label: string }> {
  const port = Number(t.service.status.trim().split(' ').pop());
  const r = await fetch(`http://127.0.0.1:${port}/`);
  return (await r.json()) as { sha: string; label: string };
}

const current = (t: HostTarget) => readlinkSync(join(t.root, 'current'));

describe('promote', () => {
  it('previews by default: names host, commit, release path, symlink and service, and changes nothing', async () => {
    const sha = repo.commit('v1');
    const t = await freshTarget();
    const r = await promote(t, { worktree: repo.dir, label: 'v1' });
    expect(r.outcome).toBe('dry-run');
    const text = r.lines.join('\n');
    expect(text).toContain(`${userInfo().username}@127.0.0.1:${host.port}`);
    expect(text).toContain(sha);
    expect(text).toContain(`${t.root}/releases/${sha}-v1`);
    expect(text).toContain(`${t.root}/current`);
    expect(text).toContain(t.service.restart);
    expect(existsSync(t.root)).toBe(false);
    // The README shows this output verbatim (paths shortened).
    if (process.env.GREENTIC_PRINT_DRY_RUN) console.log(text);
  });

  it('ships the exact commit, stamps it, flips current, restarts and verifies; promoting it again changes nothing', async () => {
    const t = await freshTarget();
    const sha1 = repo.commit('release one');
    const r1 = await promote(t, { worktree: repo.dir, label: 'v1', apply: true, promoter: 'ci@test' });
    expect(r1.outcome).toBe('promoted');
    const rel1 = join(t.root, 'releases', `${sha1}-v1`);
    expect(current(t)).toBe(rel1);
    const stamp = JSON.parse(readFileSync(join(rel1, '.release.json'), 'utf8'));
    expect(stamp).toMatchObject({ sha: sha1, label: 'v1', promoter: 'ci@test', source: `${repo.dir}@HEAD` });
    expect(Date.parse(stamp.timestamp)).toBeGreaterThan(0);
    expect(readFileSync(join(rel1, 'server.mjs'), 'utf8')).toContain('release one');
    expect(await served(t)).toMatchObject({ sha: sha1, label: 'v1' });
    expect(r1.verify?.checks.map((c) => [c.name, c.ok])).toEqual([
      ['service', true],
      ['symlink', true],
      ['source-sha', true],
    ]);
    expect(r1.truth).toMatchObject({ release: `${sha1}-v1`, sha: sha1, shaTier: 'release-json', service: 'active' });

    const sha2 = repo.commit('release two');
    const r2 = await promote(t, { worktree: repo.dir, label: 'v2', apply: true });
    expect(r2.outcome).toBe('promoted');
    expect(current(t)).toBe(join(t.root, 'releases', `${sha2}-v2`));
    expect(readFileSync(join(t.root, '.rollback-target'), 'utf8').trim()).toBe(rel1);
    expect(await served(t)).toMatchObject({ sha: sha2 });

    const again = await promote(t, { worktree: repo.dir, label: 'v2', apply: true });
    expect(again.outcome).toBe('already-current');
    expect(readFileSync(join(t.root, '.rollback-target'), 'utf8').trim()).toBe(rel1);

    const sm = await smoke(t, { expectSha: sha2 });
    expect(sm.ok).toBe(true);
    expect(sm.checks.every((c) => c.ok)).toBe(true);

    // rollback to the recorded target, then to a named release; each flips, restarts and verifies
    const back = await rollback(t, { apply: true });
    expect(back.outcome).toBe('rolled-back');
    expect(current(t)).toBe(rel1);
    expect(await served(t)).toMatchObject({ sha: sha1 });
    expect(readFileSync(join(t.root, '.rollback-target'), 'utf8').trim()).toBe(join(t.root, 'releases', `${sha2}-v2`));
    const fwd = await rollback(t, { to: `${sha2}-v2`, apply: true });
    expect(fwd.outcome).toBe('rolled-back');
    expect(await served(t)).toMatchObject({ sha: sha2 });
  });

  it('rolls back automatically when verify fails, marks the release failed and never promotes it again', async () => {
    const t = await freshTarget();
    const good = repo.commit('good one');
    await promote(t, { worktree: repo.dir, label: 'good', apply: true });
    const bad = repo.commit('broken build', { healthy: false });
    const r = await promote(t, { worktree: repo.dir, label: 'bad', apply: true });
    expect(r.outcome).toBe('rolled-back');
    expect(r.reason).toMatch(/verify of .*-bad failed: worker-\d+ not active/);
    expect(r.rollback?.verify?.ok).toBe(true);
    expect(current(t)).toBe(join(t.root, 'releases', `${good}-good`));
    expect(await served(t)).toMatchObject({ sha: good });
    expect(existsSync(join(t.root, 'releases', `${bad}-bad.failed`))).toBe(true);
    expect(r.truth).toMatchObject({ sha: good, service: 'active' });

    const again = promote(t, { worktree: repo.dir, label: 'bad', apply: true });
    await expect(again).rejects.toThrow(/failed before .* never promoted again/);
    const st = await hostStatus(t);
    expect(st.releases.find((x) => x.name === `${bad}-bad`)?.failed).toBe(true);
    await expect(rollback(t, { to: `${bad}-bad`, apply: true })).rejects.toThrow(/marked failed/);
  });

  it('a transfer dropped or cut short never leaves a release that can become current', async () => {
    const t = await freshTarget();
    const sha1 = repo.commit('base', { extra: { 'big.txt': 'x'.repeat(200_000) } });
    await promote(t, { worktree: repo.dir, label: 'base', apply: true });
    const sha2 = repo.commit('next', { extra: { 'big.txt': 'y'.repeat(200_000) } });
    for (const mode of ['drop', 'truncate'] as const) {
      const err = await promote(host.faultyTarget(t, mode), { worktree: repo.dir, label: 'next', apply: true }).catch(
        (e) => e,
      );
      expect(isEnvPackError(err, 'failed')).toBe(true);
      expect(err.message).toMatch(mode === 'drop' ? /broke off|incomplete|digest/ : /arrived incomplete/);
      expect(err.message).toContain('current was not touched');
      expect(current(t)).toBe(join(t.root, 'releases', `${sha1}-base`));
      expect(existsSync(join(t.root, 'releases', `${sha2}-next`))).toBe(false);
      expect(readdirSync(join(t.root, 'releases')).filter((f) => f.startsWith('.incoming'))).toEqual([]);
      expect(await served(t)).toMatchObject({ sha: sha1 });
    }
    // the same promotion over a healthy connection then works
    expect((await promote(t, { worktree: repo.dir, label: 'next', apply: true })).outcome).toBe('promoted');
  });

  it('a full disk, while the archive arrives or while it unpacks, is a clear error and changes nothing', async () => {
    const t = await freshTarget();
    const sha1 = repo.commit('roomy', { extra: { 'big.txt': 'r'.repeat(200_000) } });
    await promote(t, { worktree: repo.dir, label: 'roomy', apply: true });
    const sha2 = repo.commit('too big', { extra: { 'big.txt': 'b'.repeat(200_000) } });
    for (const [mode, step, why] of [
      ['disk-full', /receiving the release archive into .*\/releases/, /write error: File too large/],
      ['disk-full-unpack', /unpacking release .*-toobig/, /tar: big.txt: (Wrote only \d+ of \d+ bytes|File too large)/],
    ] as const) {
      const err = await promote(host.faultyTarget(t, mode), { worktree: repo.dir, label: 'toobig', apply: true }).catch(
        (e) => e,
      );
      expect(isEnvPackError(err, 'failed'), String(err)).toBe(true);
      expect(err.message).toMatch(step);
      expect(err.message, err.message).toMatch(why);
      expect(err.message).toContain('current was not touched and no release');
      expect(current(t)).toBe(join(t.root, 'releases', `${sha1}-roomy`));
      expect(readdirSync(join(t.root, 'releases')).sort()).toEqual([`${sha1}-roomy`]);
      expect(existsSync(join(t.root, '.lock'))).toBe(false);
      expect(await served(t)).toMatchObject({ sha: sha1 });
    }
    expect((await promote(t, { worktree: repo.dir, label: 'toobig', apply: true })).outcome).toBe('promoted');
    expect(await served(t)).toMatchObject({ sha: sha2 });
  });

  it('a releases folder the deploy user may not write is a clear permission error and changes nothing', async () => {
    const t = await freshTarget();
    const sha1 = repo.commit('writable');
    await promote(t, { worktree: repo.dir, label: 'writable', apply: true });
    repo.commit('denied');
    const releases = join(t.root, 'releases');
    chmodSync(releases, 0o555);
    try {
      const err = await promote(host.faultyTarget(t, 'permissions'), {
        worktree: repo.dir,
        label: 'denied',
        apply: true,
      }).catch((e) => e);
      expect(isEnvPackError(err, 'failed'), String(err)).toBe(true);
      expect(err.message).toMatch(/receiving the release archive into .*\/releases .*failed: .*Permission denied/);
      expect(err.message).toContain('current was not touched and no release');
      expect(current(t)).toBe(join(releases, `${sha1}-writable`));
      expect(readdirSync(releases)).toEqual([`${sha1}-writable`]);
      expect(existsSync(join(t.root, '.lock'))).toBe(false);
      expect(await served(t)).toMatchObject({ sha: sha1 });
    } finally {
      chmodSync(releases, 0o755);
    }
    expect((await promote(t, { worktree: repo.dir, label: 'denied', apply: true })).outcome).toBe('promoted');
  });

  it('still rolls back when the failed marker cannot be written, and says so', async () => {
    const t = await freshTarget();
    const good = repo.commit('keeps serving');
    await promote(t, { worktree: repo.dir, label: 'good', apply: true });
    const bad = repo.commit('broken, shipped by hand', { healthy: false });
    const releases = join(t.root, 'releases');
    // The release is already on the host (shipped by other tooling), so promote only flips, restarts and verifies.
    const dir = join(releases, `${bad}-bad`);
    mkdirSync(dir);
    execFileSync('sh', ['-c', 'git -C "$1" archive "$2" | tar -x -C "$3"', 'sh', repo.dir, bad, dir]);
    chmodSync(releases, 0o555);
    try {
      const r = await promote(host.faultyTarget(t, 'permissions'), { worktree: repo.dir, label: 'bad', apply: true });
      expect(r.outcome).toBe('rolled-back');
      expect(r.reason).toMatch(/verify of .*-bad failed/);
      expect(r.lines.join('\n')).toMatch(
        new RegExp(`WARNING: ${bad}-bad may not be marked failed \\(cannot write .*Permission denied`),
      );
      expect(current(t)).toBe(join(releases, `${good}-good`));
      expect(await served(t)).toMatchObject({ sha: good });
    } finally {
      chmodSync(releases, 0o755);
    }
  });

  it('refuses when the releases path cannot be created, with a clear error and nothing changed', async () => {
    const t = await freshTarget();
    mkdirSync(t.root, { recursive: true });
    writeFileSync(join(t.root, 'releases'), 'a file where a directory belongs');
    repo.commit('blocked');
    const err = await promote(t, { worktree: repo.dir, label: 'blocked', apply: true }).catch((e) => e);
    expect(isEnvPackError(err, 'failed')).toBe(true);
    expect(err.message).toMatch(
      /receiving the release archive into .*\/releases .*failed: .*(Not a directory|File exists)/,
    );
    expect(err.message).toContain('current was not touched');
    expect(lstatSync(join(t.root, 'releases')).isFile()).toBe(true);
    expect(existsSync(join(t.root, 'current'))).toBe(false);
  });

  it('serializes mutating operations per host: a held lock is a conflict naming its owner, nothing changed', async () => {
    const t = await freshTarget();
    const sha = repo.commit('locked');
    mkdirSync(join(t.root, '.lock'), { recursive: true });
    writeFileSync(
      join(t.root, '.lock', 'owner'),
      JSON.stringify({ operation: 'promote x', by: 'alice@ci', at: '2026-01-01T00:00:00Z' }),
    );
    const err = await promote(t, { worktree: repo.dir, label: 'v1', apply: true }).catch((e) => e);
    expect(isEnvPackError(err, 'conflict')).toBe(true);
    expect(err.message).toContain('locked by another operation (promote x by alice@ci since 2026-01-01T00:00:00Z)');
    expect(existsSync(join(t.root, 'releases'))).toBe(false);
    await expect(rollback(t, { to: `${sha}-v1`, apply: true })).rejects.toThrow(/locked by another operation/);
    // a dry run still reads and prints the plan
    expect((await promote(t, { worktree: repo.dir, label: 'v1' })).outcome).toBe('dry-run');
  });

  it('a first promotion that fails verify leaves no current behind', async () => {
    const t = await freshTarget();
    const bad = repo.commit('broken first', { healthy: false });
    const r = await promote(t, { worktree: repo.dir, label: 'first', apply: true });
    expect(r.outcome).toBe('rolled-back');
    expect(r.rollback?.to).toBeUndefined();
    expect(existsSync(join(t.root, 'current'))).toBe(false);
    expect(existsSync(join(t.root, 'releases', `${bad}-first.failed`))).toBe(true);
    expect(existsSync(join(t.root, '.lock'))).toBe(false);
  });

  it('refuses to replace a current that is a real directory', async () => {
    const t = await freshTarget();
    mkdirSync(join(t.root, 'current'), { recursive: true });
    repo.commit('over a dir');
    await expect(promote(t, { worktree: repo.dir, label: 'x', apply: true })).rejects.toThrow(
      /is a real directory or file, not a symlink/,
    );
    expect(lstatSync(join(t.root, 'current')).isDirectory()).toBe(true);
  });
});
