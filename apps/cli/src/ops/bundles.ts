import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { type Bundle, contentDigest, formatErrors, validate } from '@greentic/deploy-spec';
import type { Versioned } from '@greentic/store-contract';
import type { CommandIO } from '../base-command';
import { CliError } from '../cli-error';
import { hasCode } from './common';

/** The file a bundle folder describes itself in. */
export const BUNDLE_FILE = 'greentic.bundle.json';
const SKIP = new Set(['node_modules', '.git', 'dist', '.turbo']);

/** Where a published bundle's files are kept on this machine, for deployers that run from a folder. */
export function bundleFilesDir(home: string, id: string, version: string): string {
  return join(home, 'bundles', id, version);
}

interface LoadedBundle {
  readonly bundle: Bundle;
  /** The folder of the bundle's files, when it came from a folder. */
  readonly dir: string | undefined;
  /** True when the manifest was derived from package.json (no greentic.bundle.json). */
  readonly derived: boolean;
}

/**
 * Read a bundle from a folder (its greentic.bundle.json plus every file, hashed into the digest) or from the
 * file itself. The digest is the content digest of the manifest and the hash of each file, so the same content
 * gives the same digest on every machine.
 */
export function loadBundle(path: string, version: string | undefined): LoadedBundle {
  if (!existsSync(path)) {
    throw new CliError('not-found', `no bundle at ${path}`, {
      code: 'bundle-missing',
      hint: `give a folder that holds ${BUNDLE_FILE}, e.g. gtc op bundles publish examples/hello-worker`,
    });
  }
  const isDir = statSync(path).isDirectory();
  const file = isDir ? join(path, BUNDLE_FILE) : path;
  const dir = isDir ? path : dirname(path);
  let raw: Record<string, unknown>;
  let derived = false;
  if (existsSync(file)) {
    try {
      raw = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new CliError('usage', `${file} is not valid JSON: ${(e as Error).message}`, { code: 'invalid' });
    }
  } else {
    const fromPackage = isDir ? bundleFromPackageJson(dir) : undefined;
    if (!fromPackage) {
      throw new CliError('usage', `${path} has no ${BUNDLE_FILE}`, {
        code: 'bundle-file-missing',
        hint: `add ${BUNDLE_FILE} with { "id", "version", "capabilities", "secrets", "runtime", "launch" }`,
      });
    }
    raw = fromPackage;
    derived = true;
  }
  const { digest: _ignored, ...manifest } = raw;
  const withDefaults = {
    capabilities: [],
    secrets: [],
    runtime: [],
    ...manifest,
    ...(version ? { version } : {}),
  };
  const files = isDir ? hashFiles(dir) : {};
  const digest = contentDigest({ manifest: withDefaults, files });
  const candidate = { ...withDefaults, digest };
  const r = validate('bundle', candidate);
  if (!r.ok) {
    throw new CliError('usage', `${file} is not a valid bundle:\n${formatErrors(r.errors)}`, {
      code: 'invalid',
      hint: 'fix the fields named above and publish again',
    });
  }
  return { bundle: r.value, dir: isDir ? dir : undefined, derived };
}

/**
 * A Node package whose `start` script is `node <file>` is a bundle without a manifest: id and version from
 * package.json, launched as `{node} {bundleDir}/<file>`, health at /healthz.
 */
function bundleFromPackageJson(dir: string): Record<string, unknown> | undefined {
  const p = join(dir, 'package.json');
  if (!existsSync(p)) return undefined;
  let pkg: { name?: unknown; version?: unknown; scripts?: { start?: unknown } };
  try {
    pkg = JSON.parse(readFileSync(p, 'utf8')) as typeof pkg;
  } catch {
    return undefined;
  }
  const start = typeof pkg.scripts?.start === 'string' ? /^node\s+(\S+)$/.exec(pkg.scripts.start.trim()) : null;
  if (typeof pkg.name !== 'string' || typeof pkg.version !== 'string' || !start?.[1]) return undefined;
  return {
    id: pkg.name,
    version: pkg.version,
    launch: { command: ['{node}', `{bundleDir}/${start[1]}`], healthPath: '/healthz' },
  };
}

function hashFiles(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      if (SKIP.has(name)) continue;
      const p = join(dir, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && name !== BUNDLE_FILE) {
        out[relative(root, p).split('\\').join('/')] =
          `sha256:${createHash('sha256').update(readFileSync(p)).digest('hex')}`;
      }
    }
  };
  walk(root);
  return out;
}

export function bundleJson(b: Versioned<Bundle>) {
  return { ...b.value, version: b.value.version, storeVersion: b.version };
}

export async function publishBundle(io: CommandIO, path: string, version: string | undefined): Promise<number> {
  const { bundle, dir, derived } = loadBundle(resolve(io.cwd, path), version);
  if (derived)
    io.out.note(`[gtc] no ${BUNDLE_FILE} in ${path}: derived ${bundle.id} from package.json (start script, /healthz)`);
  const s = await io.session();
  let replayed = false;
  let already = false;
  try {
    const r = await s.store.publishBundle(bundle, { ...s.mutation(io.key('bundle.publish')), createOnly: true });
    replayed = r.replayed;
  } catch (e) {
    if (!hasCode(e, 'version-conflict')) throw e;
    const existing = await s.store.getBundle(bundle.id, bundle.version);
    if (existing.value.digest !== bundle.digest) {
      throw new CliError(
        'conflict',
        `bundle ${bundle.id}@${bundle.version} is already published with digest ${existing.value.digest}, and this content has ${bundle.digest}; published bundles never change`,
        { code: 'bundle-exists', hint: `publish it as a new version: gtc op bundles publish ${path} --version <next>` },
      );
    }
    already = true;
  }
  if (dir) {
    // Keep the published files beside the store, so a deployer that runs folders finds exactly this content.
    const target = bundleFilesDir(s.home, bundle.id, bundle.version);
    if (!existsSync(target)) {
      mkdirSync(dirname(target), { recursive: true });
      const tmp = `${target}.${process.pid}.tmp`;
      rmSync(tmp, { recursive: true, force: true });
      cpSync(dir, tmp, { recursive: true, filter: (src) => !SKIP.has(basename(src)) });
      try {
        (await import('node:fs')).renameSync(tmp, target);
      } catch {
        rmSync(tmp, { recursive: true, force: true }); // another publish of the same content won the race
      }
    }
  }
  if (io.json) io.out.json({ bundle, published: !already, replayed });
  else {
    io.out.line(
      already
        ? `bundle ${bundle.id}@${bundle.version} was already published with the same content (${bundle.digest})`
        : `published ${bundle.id}@${bundle.version} (${bundle.digest})`,
    );
  }
  return 0;
}

export async function listBundles(io: CommandIO, id: string | undefined): Promise<number> {
  const s = await io.session();
  const bundles = await s.store.listBundles(id ? { id } : undefined);
  if (io.json) {
    io.out.json({ bundles: bundles.map((b) => b.value) });
    return 0;
  }
  io.out.table(bundles, [
    { header: 'BUNDLE', value: (b) => b.value.id },
    { header: 'VERSION', value: (b) => b.value.version },
    { header: 'DIGEST', value: (b) => `${b.value.digest.slice(0, 19)}…` },
    { header: 'CAPABILITIES', value: (b) => b.value.capabilities.join(',') },
  ]);
  return 0;
}

export async function getBundle(io: CommandIO, id: string, version: string | undefined): Promise<number> {
  const s = await io.session();
  let b: Versioned<Bundle>;
  if (version) b = await s.store.getBundle(id, version);
  else {
    const all = await s.store.listBundles({ id });
    const newest = newestBundle(all.map((x) => x.value));
    if (!newest) {
      throw new CliError('not-found', `no bundle ${id} is published`, {
        code: 'not-found',
        hint: 'publish it: gtc op bundles publish <folder>',
      });
    }
    b = all.find((x) => x.value.version === newest.version)!;
  }
  if (io.json) {
    io.out.json({ bundle: b.value });
    return 0;
  }
  io.out.fields([
    ['id', b.value.id],
    ['version', b.value.version],
    ['digest', b.value.digest],
    ['capabilities', b.value.capabilities.join(', ') || '(none)'],
    ['secrets', b.value.secrets.join(', ') || '(none)'],
    ['runtime', b.value.runtime.join(', ') || '(none)'],
    ['launch', b.value.launch?.command?.join(' ') ?? b.value.launch?.image ?? '(none)'],
  ]);
  return 0;
}

/** The highest semver among bundles (pre-releases sort before their release). */
export function newestBundle(bundles: readonly Bundle[]): Bundle | undefined {
  return [...bundles].sort((a, b) => compareSemver(b.version, a.version))[0];
}

function compareSemver(a: string, b: string): number {
  const parse = (v: string) => {
    const [core = '', pre] = v.split('+')[0]!.split('-', 2) as [string, string | undefined];
    return { nums: core.split('.').map(Number), pre };
  };
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < 3; i++) {
    const d = (x.nums[i] ?? 0) - (y.nums[i] ?? 0);
    if (d !== 0) return d;
  }
  if (x.pre === y.pre) return 0;
  if (x.pre === undefined) return 1;
  if (y.pre === undefined) return -1;
  return x.pre < y.pre ? -1 : 1;
}
