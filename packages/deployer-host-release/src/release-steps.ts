import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import { EnvPackError } from '@greentic/env-pack';
import { archiveCommit } from './git-source';
import { releasesDir } from './release-names';
import { describeHost, type HostTarget, PACK_ID, type RemoteResult, remoteReason, runRemote } from './ssh-transport';

// The mutating steps of a promotion, each one ssh session with a small POSIX sh script. Each step either completes
// or leaves the previous state in place: the archive lands in a private `.incoming-*` file, is checked against the
// digest computed while it left the worktree, unpacked into a private `.incoming-*` directory and only then renamed
// to `<sha>-<label>`; `current` is replaced by renaming a fresh symlink over it (rename(2) is atomic), so there is
// never a moment without a `current`, and never a `current` pointing at half a release.

function fail(t: HostTarget, what: string, r: RemoteResult, changed: string): EnvPackError {
  return new EnvPackError('failed', `${what} on ${describeHost(t)} failed: ${remoteReason(r)}; ${changed}`, {
    pack: PACK_ID,
    details: { exitCode: r.code },
  });
}

// The first line is a marker fault-injecting ssh wrappers (and people reading `ps`) can recognise.
const RECEIVE = `# greentic-transfer: receive a git archive into a private staging file
rels=$1; tar=$2
mkdir -p -- "$rels" || exit 10
( umask 077; cat > "$tar" ) || { rm -f -- "$tar"; echo "cannot write $tar" >&2; exit 11; }
sha256sum -- "$tar" | cut -d' ' -f1
`;

const INSTALL = `
tar=$1; inc=$2; rel=$3; digest=$4; stamp=$5
bail() { rm -rf -- "$inc" "$tar"; echo "$1" >&2; exit "$2"; }
[ -e "$rel" ] && bail "release $rel already exists" 12
got=$(sha256sum -- "$tar" 2>/dev/null | cut -d' ' -f1)
[ "$got" = "$digest" ] || bail "archive digest mismatch (host has \${got:-nothing}, sent $digest): the transfer was cut short" 13
mkdir -- "$inc" || bail "cannot create $inc" 14
tar -x --no-same-owner -f "$tar" -C "$inc" || bail "cannot unpack the archive into $inc" 15
printf '%s\\n' "$stamp" > "$inc/.release.json" || bail "cannot write $inc/.release.json" 16
rm -f -- "$tar"
# Releases are immutable: nothing (but root) may write into them once they are in place.
chmod -R a-w -- "$inc" || bail "cannot make $inc read-only" 17
mv -T -- "$inc" "$rel" || { chmod -R u+w -- "$inc"; bail "cannot rename $inc to $rel" 18; }
`;

const CLEANUP = `rm -rf -- "$1" "$2"`;

/**
 * Ship one exact commit into `<root>/releases/<name>`: `git archive <sha>` streamed over ssh into a private
 * staging file, digest-checked, unpacked into a private staging directory, stamped with `.release.json`, made
 * read-only and renamed into place. On any failure the staging files are removed (best effort) and nothing that
 * `current` could point at has been created.
 */
export async function shipRelease(
  t: HostTarget,
  input: { worktree: string; sha: string; name: string; stamp: string; signal?: AbortSignal },
): Promise<{ bytes: number; sha256: string }> {
  const rels = releasesDir(t.root);
  const tag = `${input.sha}-${randomBytes(4).toString('hex')}`;
  const inc = posix.join(rels, `.incoming-${tag}`);
  const tar = `${inc}.tar`;
  const rel = posix.join(rels, input.name);
  const nothing = `current was not touched and no release ${input.name} was created`;
  const archive = archiveCommit(input.worktree, input.sha);
  // On the failure paths git is killed and `done` rejects without anyone waiting for it: keep that from becoming an
  // unhandled rejection (the success path still awaits it and sees any git failure).
  archive.done.catch(() => undefined);
  const sig = input.signal ? { signal: input.signal } : {};
  let received: RemoteResult;
  try {
    received = await runRemote(t, RECEIVE, [rels, tar], { stdin: archive.stream, timeoutMs: 600_000, ...sig });
  } catch (e) {
    archive.kill();
    await cleanup(t, inc, tar);
    throw new EnvPackError(
      'failed',
      `transfer of ${input.sha} to ${describeHost(t)}:${rel} broke off: ${(e as Error).message}; ${nothing}`,
      { pack: PACK_ID, cause: e },
    );
  }
  if (received.code !== 0) {
    archive.kill();
    await cleanup(t, inc, tar);
    throw fail(t, `receiving the release archive into ${rels}`, received, nothing);
  }
  const sent = await archive.done;
  const got = received.stdout.trim();
  if (got !== sent.sha256) {
    await cleanup(t, inc, tar);
    throw new EnvPackError(
      'failed',
      `transfer of ${input.sha} to ${describeHost(t)} arrived incomplete (sent ${sent.bytes} bytes, sha256 ${sent.sha256}; host has ${got || 'nothing'}); ${nothing}`,
      { pack: PACK_ID },
    );
  }
  const installed = await runRemote(t, INSTALL, [tar, inc, rel, sent.sha256, input.stamp], {
    timeoutMs: 600_000,
    ...sig,
  });
  if (installed.code !== 0) throw fail(t, `unpacking release ${input.name}`, installed, nothing);
  return sent;
}

async function cleanup(t: HostTarget, inc: string, tar: string): Promise<void> {
  // Best effort: if the host is gone, the leftovers are reported by status/smoke and removed by prune.
  await runRemote(t, CLEANUP, [inc, tar], { timeoutMs: 30_000 }).catch(() => undefined);
}

const FLIP = `
root=$1; to=$2; expect=$3; rollback=$4; restore=$5
cd -- "$root" || exit 20
if [ -L current ]; then now=$(readlink current); elif [ -e current ]; then
  echo "$root/current is not a symlink (a real directory or file): refusing to replace it; move it away and promote again" >&2; exit 21
else now=""; fi
if [ "$now" != "$expect" ]; then
  echo "current changed under us: it points at \${now:-nothing}, expected \${expect:-nothing}; run status and retry" >&2; exit 22
fi
# Restoring the previous state puts back exactly what was there, even a link to a missing directory.
if [ -n "$to" ] && [ "$restore" != 1 ] && [ ! -d "$to" ]; then echo "release $to does not exist" >&2; exit 23; fi
case $rollback in
  -) ;;
  "") rm -f .rollback-target || exit 24 ;;
  *) printf '%s\\n' "$rollback" > ".rollback-target.tmp.$$" && mv -f ".rollback-target.tmp.$$" .rollback-target || exit 24 ;;
esac
if [ -z "$to" ]; then rm -f current; exit $?; fi
tmp="current.tmp-$$"
ln -s -- "$to" "$tmp" || exit 25
mv -T -- "$tmp" current || { rm -f -- "$tmp"; exit 26; }
`;

/**
 * Point `<root>/current` at `to` atomically (a new symlink renamed over the old one), but only if it still points
 * at `expect` (compare-and-swap: someone else re-pointing it in between is a `conflict`, not overwritten).
 * `rollback` is written to `.rollback-target` before the flip (`-` keeps it, empty removes it). An empty `to`
 * removes `current` (undoing a first promotion that failed verify).
 */
export async function flipCurrent(
  t: HostTarget,
  input: { to: string; expect: string; rollback: string; restore?: boolean },
): Promise<void> {
  const r = await runRemote(t, FLIP, [t.root, input.to, input.expect, input.rollback, input.restore ? '1' : '0'], {
    timeoutMs: 60_000,
  });
  if (r.code === 0) return;
  const code = r.code === 21 || r.code === 22 ? 'conflict' : 'failed';
  throw new EnvPackError(
    code,
    `switching ${t.root}/current on ${describeHost(t)} to ${input.to || '(nothing)'} failed: ${remoteReason(r)}; current was left as it was`,
    { pack: PACK_ID },
  );
}

/** Run the host's restart command; the exit code and stderr tail come back as a value (verify decides). */
export async function restartService(t: HostTarget): Promise<{ ok: boolean; detail: string }> {
  const r = await runRemote(t, 'sh -c "$1"', [t.service.restart], { timeoutMs: 120_000 });
  return { ok: r.code === 0, detail: r.code === 0 ? 'restarted' : `restart command failed: ${remoteReason(r)}` };
}

/**
 * Write the `<name>.failed` marker next to a release, with the reason (the release itself stays immutable). Never
 * throws, as the rollback that follows must still run: a marker that could not be written (full disk, permissions)
 * comes back as the reason, for the caller to report. Undefined = written.
 */
export async function markFailed(t: HostTarget, name: string, reason: string): Promise<string | undefined> {
  const marker = posix.join(releasesDir(t.root), `${name}.failed`);
  const doc = JSON.stringify({ reason, at: new Date().toISOString() });
  try {
    const r = await runRemote(
      t,
      // Not tmp + rename: on a full disk the empty marker that `>` creates still marks the release failed.
      'printf "%s\\n" "$2" > "$1"',
      [marker, doc],
      { timeoutMs: 30_000 },
    );
    return r.code === 0 ? undefined : `cannot write ${marker}: ${remoteReason(r)}`;
  } catch (e) {
    return `cannot write ${marker}: ${(e as Error).message}`;
  }
}

/** Atomically write the host-local truth marker `<root>/.truth.json` (never the runtime). */
export async function writeTruthMarker(t: HostTarget, json: string): Promise<void> {
  const r = await runRemote(
    t,
    'cd -- "$1" && printf "%s\\n" "$2" > ".truth.json.tmp.$$" && mv -f ".truth.json.tmp.$$" .truth.json',
    [t.root, json],
    { timeoutMs: 30_000 },
  );
  if (r.code !== 0) throw fail(t, `writing ${t.root}/.truth.json`, r, 'the runtime was not touched');
}

/** Remove release directories (and their failed markers) and staging leftovers; paths must be under `<root>/releases`. */
export async function removePaths(t: HostTarget, paths: readonly string[]): Promise<void> {
  const rels = `${releasesDir(t.root)}/`;
  for (const p of paths) {
    if (!p.startsWith(rels) && !p.startsWith(`${t.root}/current.tmp-`)) {
      throw new EnvPackError('refused', `refusing to delete ${p}: only paths under ${rels} are release hygiene`, {
        pack: PACK_ID,
      });
    }
  }
  if (paths.length === 0) return;
  const script = 'for p in "$@"; do [ -d "$p" ] && chmod -R u+w -- "$p"; rm -rf -- "$p" "$p.failed" || exit 1; done';
  const r = await runRemote(t, script, paths, { timeoutMs: 120_000 });
  if (r.code !== 0) throw fail(t, 'removing old releases', r, 'some releases may remain; run prune again');
}
