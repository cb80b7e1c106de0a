import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isPackId, SLOTS, type Slot } from '@greentic/deploy-spec';
import type { AnyPack, PackFactory, PackFactoryOptions } from './contract';
import { EnvPackError } from './errors';

/**
 * How an installed package declares the packs it provides, in its package.json:
 *
 * ```json
 * { "greentic": { "packs": [{ "id": "greentic.deployer.local-process", "slot": "deployer", "export": "createDeployer" }] } }
 * ```
 * `export` names a function exported by the package's main entry that takes `{ config }` and returns the pack.
 */
export interface PackDeclaration {
  readonly id: string;
  readonly slot: Slot;
  readonly export: string;
  readonly summary?: string;
  /**
   * For deployers: the name of an exported function returning `@greentic/conformance` fixtures, so
   * `gtc op env-packs conformance <id>` can run the suite on the installed pack.
   */
  readonly conformance?: string;
}

export interface RegisteredPack {
  readonly id: string;
  readonly slot: Slot;
  /** The npm package that provides it. */
  readonly packageName: string;
  readonly summary: string;
  /** Where the package lives on disk (absent for in-process registrations). */
  readonly packageDir?: string;
}

interface Entry extends RegisteredPack {
  load(): Promise<PackFactory>;
}

export interface PackRegistry {
  /** Every registered pack, sorted by id. */
  list(): RegisteredPack[];
  /** True when a pack with this id is registered. */
  has(id: string): boolean;
  /** The registration of `id`; `unknown-pack` error listing the known ids otherwise. */
  describe(id: string): RegisteredPack;
  /** Load and construct the pack `id` with its config. */
  resolve<P extends AnyPack = AnyPack>(id: string, options?: PackFactoryOptions): Promise<P>;
  /** Register a pack from code (tests, embedders). Same duplicate rule as discovery. */
  register(decl: { id: string; slot: Slot; packageName: string; summary?: string }, factory: PackFactory): void;
}

/**
 * A registry of env-packs by name. With `searchFrom`, it discovers every installed package (in the
 * `node_modules` folders from that directory upwards, including scoped ones) whose package.json declares
 * `greentic.packs`, so a new provider is a new package and never a change to core code.
 *
 * @example
 * const registry = createPackRegistry({ searchFrom: process.cwd() });
 * const deployer = await registry.resolve<DeployerPack>('greentic.deployer.local-process');
 */
export function createPackRegistry(
  options: { searchFrom?: string; packageDirs?: readonly string[] } = {},
): PackRegistry {
  const entries = new Map<string, Entry>();

  function add(entry: Entry): void {
    const existing = entries.get(entry.id);
    if (existing) {
      if (existing.packageName === entry.packageName) return; // same package reached through two links
      throw new EnvPackError(
        'duplicate-pack',
        `env-pack id ${entry.id} is claimed by two packages: ${existing.packageName} and ${entry.packageName}; uninstall one of them`,
      );
    }
    entries.set(entry.id, entry);
  }

  const dirs = [
    ...(options.packageDirs ?? []),
    ...(options.searchFrom ? installedPackageDirs(options.searchFrom) : []),
  ];
  for (const dir of dirs) for (const e of declaredPacks(dir)) add(e);

  const registry: PackRegistry = {
    list: () =>
      [...entries.values()]
        .map(({ id, slot, packageName, summary, packageDir }) => ({
          id,
          slot,
          packageName,
          summary,
          ...(packageDir ? { packageDir } : {}),
        }))
        .sort((a, b) => a.id.localeCompare(b.id)),
    has: (id) => entries.has(id),
    describe(id) {
      const e = entries.get(id);
      if (!e) throw unknown(id);
      const { load: _load, ...rest } = e;
      return rest;
    },
    async resolve<P extends AnyPack = AnyPack>(id: string, opts: PackFactoryOptions = { config: {} }): Promise<P> {
      const e = entries.get(id);
      if (!e) throw unknown(id);
      const factory = await e.load();
      const pack = await factory(opts);
      if (pack.id !== id || pack.slot !== e.slot) {
        throw new EnvPackError(
          'invalid-pack',
          `package ${e.packageName} declares ${id} (${e.slot}) but its factory returned ${pack.id} (${pack.slot})`,
        );
      }
      return pack as P;
    },
    register(decl, factory) {
      checkDeclaration(decl, decl.packageName);
      add({ ...decl, summary: decl.summary ?? '', load: async () => factory });
    },
  };

  function unknown(id: string): EnvPackError {
    const known = [...entries.keys()].sort();
    return new EnvPackError(
      'unknown-pack',
      `no env-pack named ${id} is installed; known packs: ${known.length > 0 ? known.join(', ') : '(none)'}. Install the package that provides it (e.g. pnpm add <package>)`,
    );
  }
  return registry;
}

function checkDeclaration(decl: { id: string; slot: string }, packageName: string): void {
  if (!isPackId(decl.id)) {
    throw new EnvPackError(
      'invalid-pack',
      `package ${packageName} declares pack id "${decl.id}", which is not a dotted pack id like greentic.deployer.k8s`,
    );
  }
  if (!(SLOTS as readonly string[]).includes(decl.slot)) {
    throw new EnvPackError(
      'invalid-pack',
      `package ${packageName} declares pack ${decl.id} for slot "${decl.slot}"; slots are ${SLOTS.join(', ')}`,
    );
  }
}

interface PackageJson {
  name?: string;
  main?: string;
  exports?: unknown;
  greentic?: { packs?: PackDeclaration[] };
}

function declaredPacks(dir: string): Entry[] {
  const pkgPath = join(dir, 'package.json');
  if (!existsSync(pkgPath)) return [];
  let pkg: PackageJson;
  try {
    pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as PackageJson;
  } catch {
    return [];
  }
  const packs = pkg.greentic?.packs;
  if (!Array.isArray(packs)) return [];
  const name = pkg.name ?? dir;
  return packs.map((decl) => {
    checkDeclaration(decl, name);
    return {
      id: decl.id,
      slot: decl.slot,
      packageName: name,
      summary: decl.summary ?? '',
      packageDir: dir,
      load: async () => {
        const mod = (await import(pathToFileURL(entryFile(dir, pkg)).href)) as Record<string, unknown>;
        const factory = mod[decl.export];
        if (typeof factory !== 'function') {
          throw new EnvPackError(
            'invalid-pack',
            `package ${name} declares pack ${decl.id} with export "${decl.export}", but exports no such function`,
          );
        }
        return factory as PackFactory;
      },
    };
  });
}

function entryFile(dir: string, pkg: PackageJson): string {
  const dot = (pkg.exports as Record<string, unknown> | undefined)?.['.'];
  const target =
    typeof dot === 'string'
      ? dot
      : (((dot as Record<string, unknown> | undefined)?.default as string | undefined) ?? pkg.main ?? 'index.js');
  return join(dir, target);
}

/** Package folders visible from `from`: every node_modules on the way up, scoped packages included. */
function installedPackageDirs(from: string): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  let cur = from;
  for (;;) {
    const nm = join(cur, 'node_modules');
    if (existsSync(nm)) {
      for (const name of readdirSync(nm)) {
        if (name.startsWith('.')) continue;
        const dirsHere = name.startsWith('@')
          ? readdirSync(join(nm, name)).map((n) => join(nm, name, n))
          : [join(nm, name)];
        for (const d of dirsHere) {
          let real: string;
          try {
            real = realpathSync(d);
          } catch {
            continue;
          }
          if (!seen.has(real)) {
            seen.add(real);
            out.push(real);
          }
        }
      }
    }
    const up = dirname(cur);
    if (up === cur) break;
    cur = up;
  }
  return out;
}
