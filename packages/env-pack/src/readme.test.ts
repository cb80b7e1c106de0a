import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { readmeSnippets, runReadmeSnippet } from '../../../tests/readme-snippets/src/index';

// The README's usage snippet is run as written (only the package import is pointed at this source tree) in a
// folder with fake installed packs, and what it prints must be what its comments promise.
const here = fileURLToPath(new URL('.', import.meta.url));
const snippets = readmeSnippets(join(here, '..'));
let root: string | undefined;

/** A fake installed package declaring one pack, the way the README's package.json block shows. */
function install(dir: string, name: string, id: string, slot: string, source: string): void {
  const pkgDir = join(dir, 'node_modules', ...name.split('/'));
  mkdirSync(pkgDir, { recursive: true });
  const packs = [{ id, slot, export: 'create', summary: `${id} for the README` }];
  writeFileSync(
    join(pkgDir, 'package.json'),
    JSON.stringify({ name, type: 'module', main: 'index.js', greentic: { packs } }),
  );
  writeFileSync(join(pkgDir, 'index.js'), source);
}

const runSnippetIn = (dir: string, code: string): Promise<string[]> =>
  runReadmeSnippet(code, { packageName: '@greentic/env-pack', entry: join(here, 'index.ts'), dir });

afterEach(() => {
  if (root) rmSync(root, { recursive: true, force: true });
  root = undefined;
});

describe('README', () => {
  it('has one TypeScript usage snippet', () => {
    expect(snippets).toHaveLength(1);
  });

  it('lists the installed packs and resolves the deployer by name', async () => {
    root = mkdtempSync(join(tmpdir(), 'env-pack-readme-'));
    install(
      root,
      '@greentic/deployer-local-process',
      'greentic.deployer.local-process',
      'deployer',
      `export const create = () => ({ id: 'greentic.deployer.local-process', slot: 'deployer', capabilities: { summary: 'local processes' } });`,
    );
    install(root, '@greentic/secrets-file', 'greentic.secrets.file', 'secrets', 'export const create = () => ({});');
    expect(await runSnippetIn(root, snippets[0]!)).toEqual([
      JSON.stringify([
        'greentic.deployer.local-process (deployer) from @greentic/deployer-local-process',
        'greentic.secrets.file (secrets) from @greentic/secrets-file',
      ]),
      'local processes',
    ]);
  });

  it('names the known packs when the deployer is not installed', async () => {
    root = mkdtempSync(join(tmpdir(), 'env-pack-readme-'));
    install(root, '@greentic/secrets-file', 'greentic.secrets.file', 'secrets', 'export const create = () => ({});');
    const printed = await runSnippetIn(root, snippets[0]!);
    expect(printed[1]).toMatch(
      /^no env-pack named greentic\.deployer\.local-process is installed; known packs: greentic\.secrets\.file\. /,
    );
  });
});
