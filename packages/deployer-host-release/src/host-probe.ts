import { posix } from 'node:path';
import { EnvPackError } from '@greentic/env-pack';
import { releasesDir, resolveSourceSha, type SourceSha } from './release-names';
import { describeHost, type HostTarget, PACK_ID, remoteReason, runRemote } from './ssh-transport';

/** The provenance stamp written into every release (`<release>/.release.json`). */
export interface ReleaseStamp {
  readonly schema: 'greentic.host-release/v1';
  readonly sha: string;
  readonly label: string;
  /** Where the commit came from: the worktree path and the ref that was resolved. */
  readonly source: string;
  readonly promoter: string;
  readonly timestamp: string;
  /** True when the worktree had uncommitted changes at promote time (they were NOT shipped). */
  readonly worktreeDirty?: boolean;
}

/** One directory under `<root>/releases`, as the host reports it. */
export interface ReleaseInfo {
  readonly name: string;
  readonly path: string;
  /** Marked failed (`<name>.failed` exists): never counted as a good release; the marker holds the reason. */
  readonly failed: boolean;
  readonly failedReason: string | undefined;
  readonly stamp: Partial<ReleaseStamp> | undefined;
  readonly source: SourceSha;
  /** Directory modification time (seconds since epoch), the fallback order when there is no stamp. */
  readonly mtime: number;
}

/** Everything the read-only probe learns about a host in one ssh session. */
export interface HostSnapshot {
  readonly host: string;
  readonly rootState: 'dir' | 'missing' | 'not-a-dir';
  /** `current` as the host has it: absent, a symlink (raw link text + absolute target), or something else. */
  readonly current:
    | { readonly kind: 'absent' }
    | { readonly kind: 'not-a-symlink' }
    | { readonly kind: 'symlink'; readonly link: string; readonly target: string; readonly exists: boolean };
  /** Three-tier source SHA of what `current` points at (undefined when it points nowhere). */
  readonly currentSource: SourceSha | undefined;
  readonly rollbackTarget: string | undefined;
  readonly truthMarker: string | undefined;
  readonly releases: readonly ReleaseInfo[];
  /** `.incoming-*` staging leftovers (a transfer that was cut) and `current.tmp-*` leftovers. */
  readonly leftovers: readonly { readonly path: string; readonly ageMinutes: number }[];
  /** Releases that side-by-side revision instances (the `release` link of each `<root>/instances/<name>`) point at: never pruned. */
  readonly inUse: readonly string[];
  /** Exit codes of the service status and health commands (health undefined when not configured). */
  readonly serviceExit: number;
  readonly healthExit: number | undefined;
}

// One ssh session, read-only. Output is line-oriented: `key=value`, and tab-separated rows for releases.
// base64 keeps arbitrary JSON on one line.
const PROBE = `
root=$1; svc=$2; health=$3
if [ ! -e "$root" ]; then echo "root=missing"; elif [ ! -d "$root" ]; then echo "root=not-a-dir"; else echo "root=dir"; fi
stamp() { [ -f "$1/.release.json" ] && base64 -w0 < "$1/.release.json"; }
gitsha() { if [ -e "$1/.git" ] && command -v git >/dev/null 2>&1; then git -C "$1" rev-parse --verify --quiet HEAD 2>/dev/null; fi; }
if [ -d "$root" ]; then
  cd "$root"
  if [ -L current ]; then
    l=$(readlink current); echo "link=$l"
    case $l in /*) t=$l ;; *) t="$root/$l" ;; esac
    if [ -d current ]; then echo "exists=1"; echo "cjson=$(stamp "$t")"; echo "cgit=$(gitsha "$t")"; fi
  elif [ -e current ]; then echo "current=not-a-symlink"; fi
  [ -f .rollback-target ] && echo "rollback=$(head -n1 .rollback-target)"
  [ -f .truth.json ] && echo "truth=$(base64 -w0 < .truth.json)"
  now=$(date +%s)
  for f in current.tmp-* releases/.incoming-*; do
    [ -e "$f" ] || [ -L "$f" ] || continue
    m=$(stat -c %Y "$f" 2>/dev/null || echo "$now"); echo "leftover	$root/$f	$(( (now - m) / 60 ))"
  done
  for l in instances/*/release; do
    [ -L "$l" ] || continue
    v=$(readlink "$l"); case $v in /*) ;; *) v="$root/$(dirname "$l")/$v" ;; esac; echo "inuse	$v"
  done
  if [ -d releases ]; then
    for d in releases/*/; do
      [ -d "$d" ] || continue
      n=$(basename "$d"); p="$root/releases/$n"
      fr=""; f=0; if [ -f "releases/$n.failed" ]; then f=1; fr=$(base64 -w0 < "releases/$n.failed"); fi
      printf 'rel\\t%s\\t%s\\t%s\\t%s\\t%s\\t%s\\n' "$n" "$f" "$(stat -c %Y "$p")" "$(stamp "$p")" "$(gitsha "$p")" "$fr"
    done
  fi
fi
sh -c "$svc" >/dev/null 2>&1; echo "service=$?"
if [ -n "$health" ]; then sh -c "$health" >/dev/null 2>&1; echo "health=$?"; fi
exit 0
`;

function b64json(s: string | undefined): Record<string, unknown> | undefined {
  if (!s) return undefined;
  try {
    const v = JSON.parse(Buffer.from(s, 'base64').toString('utf8')) as unknown;
    return v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function stampSha(stamp: Record<string, unknown> | undefined): string | undefined {
  return typeof stamp?.sha === 'string' ? stamp.sha : undefined;
}

/**
 * Read the host's release state in one read-only ssh session: where `current` points (and its three-tier source
 * SHA), the rollback target, every release with its stamp and failed marker, staging leftovers, and the exit
 * codes of the service status and health commands.
 *
 * @example
 * const snap = await probeHost(target);
 * if (snap.current.kind === 'symlink') console.log(snap.current.target, snap.currentSource?.sha);
 */
export async function probeHost(t: HostTarget, opts: { signal?: AbortSignal } = {}): Promise<HostSnapshot> {
  const r = await runRemote(t, PROBE, [t.root, t.service.status, t.service.health ?? ''], {
    timeoutMs: 60_000,
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  if (r.code !== 0) {
    throw new EnvPackError(
      'failed',
      `reading the release state of ${describeHost(t)}:${t.root} failed: ${remoteReason(r)}`,
      {
        pack: PACK_ID,
      },
    );
  }
  const kv = new Map<string, string>();
  const releases: ReleaseInfo[] = [];
  const leftovers: { path: string; ageMinutes: number }[] = [];
  const inUse: string[] = [];
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('rel\t')) {
      const [, name = '', failed, mtime, stampB64, gitHead, failedB64] = line.split('\t');
      const stamp = b64json(stampB64);
      const failedDoc = b64json(failedB64);
      releases.push({
        name,
        path: posix.join(releasesDir(t.root), name),
        failed: failed === '1',
        failedReason:
          typeof failedDoc?.reason === 'string' ? failedDoc.reason : failed === '1' ? 'marked failed' : undefined,
        stamp: stamp as Partial<ReleaseStamp> | undefined,
        source: resolveSourceSha({ releaseJsonSha: stampSha(stamp), gitHead: gitHead || undefined, dirName: name }),
        mtime: Number(mtime) || 0,
      });
    } else if (line.startsWith('inuse\t')) {
      inUse.push(posix.normalize(line.slice(6)));
    } else if (line.startsWith('leftover\t')) {
      const [, path = '', age] = line.split('\t');
      leftovers.push({ path, ageMinutes: Number(age) || 0 });
    } else {
      const i = line.indexOf('=');
      if (i > 0) kv.set(line.slice(0, i), line.slice(i + 1));
    }
  }
  const rootState = (kv.get('root') ?? 'missing') as HostSnapshot['rootState'];
  let current: HostSnapshot['current'] = { kind: 'absent' };
  let currentSource: SourceSha | undefined;
  const link = kv.get('link');
  if (kv.get('current') === 'not-a-symlink') current = { kind: 'not-a-symlink' };
  else if (link !== undefined) {
    const target = posix.resolve(t.root, link);
    const exists = kv.get('exists') === '1';
    current = { kind: 'symlink', link, target, exists };
    if (exists) {
      currentSource = resolveSourceSha({
        releaseJsonSha: stampSha(b64json(kv.get('cjson'))),
        gitHead: kv.get('cgit') || undefined,
        dirName: posix.basename(target),
      });
    }
  }
  const health = kv.get('health');
  return {
    host: describeHost(t),
    rootState,
    current,
    currentSource,
    rollbackTarget: kv.get('rollback') || undefined,
    truthMarker: kv.has('truth') ? Buffer.from(kv.get('truth') ?? '', 'base64').toString('utf8') : undefined,
    releases: releases.sort((a, b) => releaseTime(b) - releaseTime(a) || b.name.localeCompare(a.name)),
    leftovers,
    inUse,
    serviceExit: Number(kv.get('service') ?? '1'),
    healthExit: health === undefined ? undefined : Number(health),
  };
}

/** When a release was made: its stamp's timestamp, else the directory's mtime (seconds). */
export function releaseTime(r: ReleaseInfo): number {
  const ts = typeof r.stamp?.timestamp === 'string' ? Date.parse(r.stamp.timestamp) : Number.NaN;
  return Number.isFinite(ts) ? ts / 1000 : r.mtime;
}

/** The release `current` points at, when it is a directory directly under `<root>/releases`. */
export function currentRelease(snap: HostSnapshot): ReleaseInfo | undefined {
  if (snap.current.kind !== 'symlink') return undefined;
  const target = snap.current.target;
  return snap.releases.find((r) => r.path === target);
}
