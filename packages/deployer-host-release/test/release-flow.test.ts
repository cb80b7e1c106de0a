import { execFileSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { isEnvPackError } from '@greentic/env-pack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HostTarget, hostStatus, promote, pruneReleases, rollback, smoke } from '../src/index';
import { freePort, makeRepo, type Repo, startTestHost, type TestHost } from './ssh-host';

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
    expect(text).toContain(`root@127.0.0.1:${host.port}`);
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

describe('status', () => {
  it('flags drift when current is re-pointed out of band; --update rewrites only the truth marker', async () => {
    const t = await freshTarget();
    const sha1 = repo.commit('drift one');
    const r1 = await promote(t, { worktree: repo.dir, label: 'd1', apply: true });
    const sha2 = repo.commit('drift two');
    await promote(t, { worktree: repo.dir, label: 'd2', apply: true });
    const recorded = (await hostStatus(t)).live;
    expect((await hostStatus(t, { expected: recorded })).drift).toEqual([]);

    // another actor re-points current behind our back (no restart)
    const tmp = join(t.root, 'other-actor');
    symlinkSync(join(t.root, 'releases', `${sha1}-d1`), tmp);
    renameSync(tmp, join(t.root, 'current'));
    const s = await hostStatus(t, { expected: recorded });
    expect(s.drift.map((d) => d.field).sort()).toEqual(['release', 'sha']);
    expect(s.drift.find((d) => d.field === 'sha')?.message).toContain(sha1);
    expect(s.source).toMatchObject({ sha: sha1, tier: 'release-json' });
    expect(s.lines.join('\n')).toContain('re-pointed out of band');
    // the host marker (written by the last promote) disagrees as well
    expect((await hostStatus(t)).recorded.from).toBe('host-marker');
    expect((await hostStatus(t)).drift.length).toBeGreaterThan(0);

    const u = await hostStatus(t, { update: true });
    expect(u.updated).toBe(true);
    expect(JSON.parse(readFileSync(join(t.root, '.truth.json'), 'utf8'))).toMatchObject({
      release: `${sha1}-d1`,
      sha: sha1,
    });
    expect((await hostStatus(t)).drift).toEqual([]);
    // the runtime was not touched: the worker still runs what it was started with
    expect(await served(t)).toMatchObject({ sha: sha2 });
    expect(r1.truth?.sha).toBe(sha1);
  });

  it('resolves the source SHA in three tiers and says which one answered', async () => {
    const t = await freshTarget();
    const sha = repo.commit('tiers');
    const rels = join(t.root, 'releases');
    mkdirSync(rels, { recursive: true });
    // tier 2: a release built by other tooling as a git checkout, with no stamp and a name that is not a SHA
    execFileSync('git', ['clone', '-q', repo.dir, join(rels, 'checkout-by-hand')]);
    // tier 3: a plain directory whose name is <sha>-<label>
    mkdirSync(join(rels, `${sha}-copied`));
    const st = async () => (await hostStatus(t)).releases;
    const byName = Object.fromEntries((await st()).map((r) => [r.name, r]));
    expect(byName['checkout-by-hand']).toMatchObject({ sha, tier: 'git' });
    expect(byName[`${sha}-copied`]).toMatchObject({ sha, tier: 'dir-name' });
    // and tier 1 after a promotion
    await promote(t, { worktree: repo.dir, label: 'stamped', apply: true });
    expect((await hostStatus(t)).source).toMatchObject({ sha, tier: 'release-json' });
    // rolling back to the hand-made checkout verifies through tier 2
    const r = await rollback(t, { to: 'checkout-by-hand', apply: true });
    expect(r.outcome).toBe('rolled-back');
    expect((await hostStatus(t)).source).toMatchObject({ sha, tier: 'git' });
  });
});

describe('hygiene', () => {
  it('keeps the last N good releases, never current or the rollback target, never counts failed ones', async () => {
    const t = await freshTarget({ keepReleases: 0 });
    const shas: string[] = [];
    for (const i of [1, 2, 3]) {
      shas.push(repo.commit(`h${i}`));
      await promote(t, { worktree: repo.dir, label: `h${i}`, apply: true, keepReleases: 0 });
    }
    const bad = repo.commit('h-bad', { healthy: false });
    expect((await promote(t, { worktree: repo.dir, label: 'hbad', apply: true, keepReleases: 0 })).outcome).toBe(
      'rolled-back',
    );
    const dry = await pruneReleases(t, { keep: 1 });
    expect(dry.outcome).toBe('dry-run');
    const rel = (s: string, l: string) => join(t.root, 'releases', `${s}-${l}`);
    expect(dry.keep.map((k) => [k.path, k.why])).toEqual([
      [rel(shas[2]!, 'h3'), 'current'],
      [rel(shas[1]!, 'h2'), 'rollback target'],
    ]);
    expect(dry.remove.map((k) => k.path).sort()).toEqual([rel(bad, 'hbad'), rel(shas[0]!, 'h1')].sort());
    expect(readdirSync(join(t.root, 'releases')).length).toBe(5); // 4 releases + 1 failed marker, untouched
    const done = await pruneReleases(t, { keep: 1, apply: true });
    expect(done.outcome).toBe('pruned');
    expect(readdirSync(join(t.root, 'releases')).sort()).toEqual([`${shas[1]}-h2`, `${shas[2]}-h3`].sort());
    expect((await smoke(t)).ok).toBe(true);
  });
});

describe('ssh', () => {
  it('refuses a host whose key is not in known_hosts (no trust on first use)', async () => {
    const { controlPath: _shared, ...t } = await freshTarget(); // a new connection, so the host key is checked
    const empty = join(host.dir, 'empty_known_hosts');
    writeFileSync(empty, '');
    const err = await hostStatus({ ...t, knownHostsFile: empty }).catch((e) => e);
    expect(isEnvPackError(err, 'unavailable')).toBe(true);
    expect(err.message).toMatch(/Host key verification failed|No .* host key is known/);
    expect(err.message).toContain(empty);
  });
});
