import { posix } from 'node:path';
import { EnvPackError } from '@greentic/env-pack';
import { PACK_ID } from './ssh-transport';

// Names of the release layout (seed 002 "Immutable, exact-commit releases"):
//   <root>/releases/<sha>-<label>/   one immutable release per exact commit
//   <root>/releases/<sha>-<label>.failed   marker: this release failed verify; never a good release
//   <root>/releases/.incoming-<sha>-<rand>[.tar]   private staging, renamed into place only when complete
//   <root>/current -> releases/<sha>-<label>   flipped atomically (new symlink renamed over the old)
//   <root>/.rollback-target   the previous current target, recorded before each flip
//   <root>/.truth.json   the host-local truth marker (status --update, successful promote)

const LABEL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const FULL_SHA = /^[0-9a-f]{40}$/;
const DIR_NAME = /^([0-9a-f]{7,40})(?:-([A-Za-z0-9][A-Za-z0-9._-]*))?$/;

/** A 40-hex commit id. */
export function isFullSha(s: string): boolean {
  return FULL_SHA.test(s);
}

/** Refuse a label that cannot be part of `<sha>-<label>` (letters, digits, `.`, `_`, `-`; up to 64; no leading dot). */
export function checkLabel(label: string): void {
  if (!LABEL.test(label)) {
    throw new EnvPackError(
      'refused',
      `release label ${JSON.stringify(label)} is not usable in a release directory name: use 1–64 letters, digits, ".", "_" or "-", starting with a letter or digit (e.g. v1.4.2)`,
      { pack: PACK_ID },
    );
  }
}

/** Refuse a release root that is not a plain absolute path. */
export function checkRoot(root: string): void {
  if (!root.startsWith('/') || root.split('/').some((seg) => seg === '..' || seg === '.') || root.length < 2) {
    throw new EnvPackError(
      'refused',
      `release root ${JSON.stringify(root)} must be an absolute path without . or .. segments, e.g. /opt/agent`,
      { pack: PACK_ID },
    );
  }
}

/** `<sha>-<label>`. */
export function releaseDirName(sha: string, label: string): string {
  return `${sha}-${label}`;
}

/** `<root>/releases`. */
export function releasesDir(root: string): string {
  return posix.join(root, 'releases');
}

/** Tier 3 of the source-SHA resolution: recover the commit from a `<sha>-<label>` directory name. */
export function parseReleaseDirName(name: string): { sha: string; label: string | undefined } | undefined {
  const m = DIR_NAME.exec(name);
  if (!m) return undefined;
  return { sha: m[1] as string, label: m[2] };
}

/** Which tier answered the source-SHA question. */
export type ShaTier = 'release-json' | 'git' | 'dir-name' | 'unknown';

export interface SourceSha {
  /** The commit the release was built from, or undefined when no tier could tell. */
  readonly sha: string | undefined;
  readonly tier: ShaTier;
  /** Tiers that answered and disagree with the winning one (a release altered or mislabelled by other tooling). */
  readonly disagreements: readonly { readonly tier: ShaTier; readonly sha: string }[];
}

/**
 * The three-tier source-SHA resolution of seed 002: `.release.json` → `git rev-parse HEAD` inside the release →
 * the `<sha>-<label>` directory name. The first tier that answers wins; the others are compared with it, so a
 * release whose stamp and name disagree is reported, not silently trusted. An abbreviated SHA in a directory
 * name agrees with a full one that starts with it.
 *
 * @example
 * resolveSourceSha({ releaseJsonSha: undefined, gitHead: undefined, dirName: 'a1b2c3d-v2' })
 * // => { sha: 'a1b2c3d', tier: 'dir-name', disagreements: [] }
 */
export function resolveSourceSha(input: {
  readonly releaseJsonSha: string | undefined;
  readonly gitHead: string | undefined;
  readonly dirName: string | undefined;
}): SourceSha {
  const answers: { tier: ShaTier; sha: string }[] = [];
  if (input.releaseJsonSha && /^[0-9a-f]{7,40}$/.test(input.releaseJsonSha))
    answers.push({ tier: 'release-json', sha: input.releaseJsonSha });
  if (input.gitHead && FULL_SHA.test(input.gitHead)) answers.push({ tier: 'git', sha: input.gitHead });
  const fromName = input.dirName === undefined ? undefined : parseReleaseDirName(input.dirName);
  if (fromName) answers.push({ tier: 'dir-name', sha: fromName.sha });
  const first = answers[0];
  if (!first) return { sha: undefined, tier: 'unknown', disagreements: [] };
  const same = (a: string, b: string) => a.startsWith(b) || b.startsWith(a);
  return {
    sha: first.sha,
    tier: first.tier,
    disagreements: answers.slice(1).filter((a) => !same(a.sha, first.sha)),
  };
}

/** True when two commit ids name the same commit (one may be abbreviated, at least 7 hex). */
export function sameCommit(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b || a.length < 7 || b.length < 7) return false;
  return a.startsWith(b) || b.startsWith(a);
}
