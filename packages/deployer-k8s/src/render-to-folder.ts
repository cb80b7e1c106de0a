import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EnvPackError, type RenderedFile } from '@greentic/env-pack';
import { PACK_ID } from './kinds';
import { GENERATED_MARKER } from './render';

/** What `renderToFolder` did, each list sorted by file name. */
export interface FolderChanges {
  readonly added: readonly string[];
  readonly changed: readonly string[];
  readonly removed: readonly string[];
  readonly unchanged: readonly string[];
}

const SAFE_NAME = /^[a-z0-9][a-z0-9.-]*\.yaml$/;

/**
 * Write rendered files into `dir` (`gtc op env render <env> --out <dir>`): adds new files, rewrites changed ones,
 * removes files this pack wrote before (recognised by the `# generated-by: greentic.deployer.k8s` first line) that
 * are no longer rendered, such as a retired revision's worker, and never touches any other file. Writes go through
 * a temporary file and a rename, so a reader never sees half a manifest.
 *
 * @example
 * const { added, changed, removed } = await renderToFolder('./out', renderManifests(desired));
 */
export async function renderToFolder(dir: string, files: readonly RenderedFile[]): Promise<FolderChanges> {
  for (const f of files) {
    if (!SAFE_NAME.test(f.path) || !f.content.startsWith(`${GENERATED_MARKER}\n`)) {
      throw new EnvPackError('refused', `rendered file ${f.path} is not a ${PACK_ID} manifest; nothing was written`, {
        pack: PACK_ID,
      });
    }
  }
  await mkdir(dir, { recursive: true });
  const wanted = new Map(files.map((f) => [f.path, f.content]));
  const added: string[] = [];
  const changed: string[] = [];
  const unchanged: string[] = [];
  const removed: string[] = [];
  const existing = new Map<string, string>();
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.yaml')) continue;
    existing.set(entry.name, await readFile(join(dir, entry.name), 'utf8'));
  }
  // Every refusal happens before the first write: a refused render changes nothing.
  for (const path of wanted.keys()) {
    const before = existing.get(path);
    if (before !== undefined && !before.startsWith(`${GENERATED_MARKER}\n`)) {
      throw new EnvPackError(
        'refused',
        `${join(dir, path)} exists and was not written by ${PACK_ID}; move it away or choose another --out folder`,
        { pack: PACK_ID },
      );
    }
  }
  for (const [path, content] of [...wanted].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const before = existing.get(path);
    if (before === content) {
      unchanged.push(path);
      continue;
    }
    const tmp = join(dir, `.${path}.tmp-${process.pid}`);
    await writeFile(tmp, content);
    await rename(tmp, join(dir, path));
    (before === undefined ? added : changed).push(path);
  }
  for (const [path, content] of [...existing].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (wanted.has(path) || !content.startsWith(`${GENERATED_MARKER}\n`)) continue;
    await rm(join(dir, path));
    removed.push(path);
  }
  return { added, changed, removed, unchanged };
}
