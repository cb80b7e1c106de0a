import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { PackRegistry } from '@greentic/env-pack';

interface PackageJson {
  main?: string;
  exports?: unknown;
  greentic?: { packs?: { id: string; conformance?: string }[] };
}

/** The package.json and the main module of the package that provides `packId` (undefined for in-process packs). */
export async function packModule(
  registry: PackRegistry,
  packId: string,
): Promise<{ pkg: PackageJson; packageName: string; mod: Record<string, unknown> } | undefined> {
  const reg = registry.describe(packId);
  if (!reg.packageDir) return undefined;
  const pkg = JSON.parse(readFileSync(join(reg.packageDir, 'package.json'), 'utf8')) as PackageJson;
  const dot = (pkg.exports as Record<string, unknown> | undefined)?.['.'];
  const entry =
    typeof dot === 'string'
      ? dot
      : (((dot as Record<string, unknown> | undefined)?.default as string | undefined) ?? pkg.main ?? 'index.js');
  const mod = (await import(pathToFileURL(join(reg.packageDir, entry)).href)) as Record<string, unknown>;
  return { pkg, packageName: reg.packageName, mod };
}
