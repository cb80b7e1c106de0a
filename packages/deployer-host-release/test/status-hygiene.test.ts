import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isEnvPackError } from '@greentic/env-pack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HostTarget, hostStatus, promote, pruneReleases, rollback, smoke } from '../src/index';
import { freePort, makeRepo, type Repo, startTestHost, type TestHost } from '../src/throwaway-host';

const mkdirP = (p: string) => {
  mkdirSync(p, { recursive: true });
  return p;
};

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
    // a release no tier can place can still be rolled back to; its SHA is reported as not compared
    execFileSync('sh', [
      '-c',
      `git -C "${repo.dir}" archive ${sha} | tar -x -C "$1"`,
      'sh',
      mkdirP(join(rels, 'hand-made')),
    ]);
    const blind = await rollback(t, { to: 'hand-made', apply: true });
    expect(blind.outcome).toBe('rolled-back');
    expect(blind.verify?.checks.find((c) => c.name === 'source-sha')?.detail).toContain('not compared');
    expect((await hostStatus(t)).source).toMatchObject({ sha: undefined, tier: 'unknown' });
  });
});

describe('rollback', () => {
  it('a rollback target that does not verify is marked failed and current returns to where it was', async () => {
    const t = await freshTarget();
    const good = repo.commit('serving');
    await promote(t, { worktree: repo.dir, label: 'good', apply: true });
    // a release made by other tooling from a broken commit (tier 3: only its name tells the SHA)
    const bad = repo.commit('broken by hand', { healthy: false });
    const dir = mkdirP(join(t.root, 'releases', `${bad}-manual`));
    execFileSync('sh', ['-c', `git -C "${repo.dir}" archive ${bad} | tar -x -C "$1"`, 'sh', dir]);
    const r = await rollback(t, { to: `${bad}-manual`, apply: true });
    expect(r.outcome).toBe('reverted');
    expect(r.reason).toMatch(/verify of .*-manual failed/);
    expect((await hostStatus(t)).source).toMatchObject({ sha: good, tier: 'release-json' });
    expect((await hostStatus(t)).releases.find((x) => x.name === `${bad}-manual`)?.failed).toBe(true);
    expect((await smoke(t)).ok).toBe(true);
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

describe('hygiene under the lock', () => {
  it('decides what to remove only after taking the lock, so a current re-pointed meanwhile is never deleted', async () => {
    const t = await freshTarget({ keepReleases: 0 });
    const shas: string[] = [];
    for (const i of [1, 2, 3]) {
      shas.push(repo.commit(`l${i}`));
      await promote(t, { worktree: repo.dir, label: `l${i}`, apply: true, keepReleases: 0 });
    }
    const oldest = join(t.root, 'releases', `${shas[0]}-l1`);
    // Someone rolls back to the oldest release by hand at the moment prune asks for the lock (the wrapper re-points
    // current just before the lock's ssh session). Deciding before locking would delete the new current.
    const hook = join(host.dir, 'repoint-before-lock.sh');
    writeFileSync(
      hook,
      `#!/bin/sh
old=$1; root=$2; shift 2
case "$*" in *.lock/owner*) ln -s -- "$old" "$root/current.hook" && mv -T -- "$root/current.hook" "$root/current" ;; esac
exec ssh "$@"
`,
      { mode: 0o755 },
    );
    const { controlPath: _shared, ...plain } = t;
    const pruned = await pruneReleases({ ...plain, sshCommand: [hook, oldest, t.root] }, { keep: 1, apply: true });
    expect(readlinkSync(join(t.root, 'current'))).toBe(oldest);
    expect(pruned.keep).toContainEqual({ path: oldest, why: 'current' });
    expect(pruned.remove).toEqual([]);
    expect(readdirSync(join(t.root, 'releases'))).toContain(`${shas[0]}-l1`);
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
