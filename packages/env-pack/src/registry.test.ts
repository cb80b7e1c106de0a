import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isEnvPackError } from './errors';
import { createPackRegistry } from './registry';

let root: string;

/** A fake installed package: package.json with a `greentic.packs` declaration and an ESM entry. */
function installPackage(dir: string, name: string, packs: unknown[], source: string): void {
  const pkgDir = join(dir, 'node_modules', ...name.split('/'));
  mkdirSync(pkgDir, { recursive: true });
  writeFileSync(
    join(pkgDir, 'package.json'),
    JSON.stringify({ name, type: 'module', exports: { '.': { default: './index.js' } }, greentic: { packs } }),
  );
  writeFileSync(join(pkgDir, 'index.js'), source);
}

const deployerSource = (id: string) => `
export function createDeployer({ config }) {
  return { id: ${JSON.stringify(id)}, slot: 'deployer', config };
}`;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'greentic-registry-'));
  mkdirSync(join(root, 'app', 'src'), { recursive: true });
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('createPackRegistry', () => {
  it('discovers packs declared by installed packages, scoped ones too, from any folder below them', async () => {
    installPackage(
      root,
      '@acme/deployer-fake',
      [{ id: 'acme.deployer.fake', slot: 'deployer', export: 'createDeployer', summary: 'fake' }],
      deployerSource('acme.deployer.fake'),
    );
    installPackage(
      join(root, 'app'),
      'greentic-secrets-vault',
      [{ id: 'greentic.secrets.vault', slot: 'secrets', export: 'createSecrets' }],
      `export const createSecrets = () => ({ id: 'greentic.secrets.vault', slot: 'secrets' });`,
    );
    installPackage(root, 'left-pad', [], 'export default 1;');
    const registry = createPackRegistry({ searchFrom: join(root, 'app', 'src') });
    expect(registry.list().map((p) => [p.id, p.slot, p.packageName])).toEqual([
      ['acme.deployer.fake', 'deployer', '@acme/deployer-fake'],
      ['greentic.secrets.vault', 'secrets', 'greentic-secrets-vault'],
    ]);
    const pack = await registry.resolve('acme.deployer.fake', { config: { region: 'eu' } });
    expect(pack).toMatchObject({ id: 'acme.deployer.fake', slot: 'deployer', config: { region: 'eu' } });
  });

  it('an unknown id is an unknown-pack error listing the known ones', async () => {
    installPackage(
      root,
      'acme-deployer',
      [{ id: 'acme.deployer.fake', slot: 'deployer', export: 'createDeployer' }],
      deployerSource('acme.deployer.fake'),
    );
    const registry = createPackRegistry({ searchFrom: root });
    const err = await registry.resolve('greentic.deployer.k8s').catch((e: unknown) => e);
    expect(isEnvPackError(err, 'unknown-pack')).toBe(true);
    expect((err as Error).message).toContain(
      'no env-pack named greentic.deployer.k8s is installed; known packs: acme.deployer.fake',
    );
    expect(() => registry.describe('nope.nope')).toThrow(/known packs: acme\.deployer\.fake/);
    expect(() => createPackRegistry({ searchFrom: join(root, 'app') }).describe('a.b')).toThrow(/known packs/);
  });

  it('two packages claiming one id is a duplicate-pack error naming both', () => {
    const decl = [{ id: 'greentic.deployer.k8s', slot: 'deployer', export: 'createDeployer' }];
    installPackage(root, '@greentic/deployer-k8s', decl, deployerSource('greentic.deployer.k8s'));
    installPackage(root, 'k8s-deployer-fork', decl, deployerSource('greentic.deployer.k8s'));
    let err: unknown;
    try {
      createPackRegistry({ searchFrom: root });
    } catch (e) {
      err = e;
    }
    expect(isEnvPackError(err, 'duplicate-pack')).toBe(true);
    expect((err as Error).message).toContain('@greentic/deployer-k8s');
    expect((err as Error).message).toContain('k8s-deployer-fork');
  });

  it('refuses declarations and factories that do not fit the contract', async () => {
    installPackage(root, 'bad-id', [{ id: 'Not A Pack', slot: 'deployer', export: 'x' }], '');
    expect(() => createPackRegistry({ searchFrom: root })).toThrow(/not a dotted pack id/);
    rmSync(join(root, 'node_modules', 'bad-id'), { recursive: true });

    installPackage(root, 'bad-slot', [{ id: 'acme.cache.x', slot: 'cache', export: 'x' }], '');
    expect(() => createPackRegistry({ searchFrom: root })).toThrow(/slots are deployer, secrets/);
    rmSync(join(root, 'node_modules', 'bad-slot'), { recursive: true });

    installPackage(
      root,
      'liar',
      [
        { id: 'acme.deployer.liar', slot: 'deployer', export: 'createDeployer' },
        { id: 'acme.deployer.missing', slot: 'deployer', export: 'nothingHere' },
      ],
      deployerSource('acme.deployer.other'),
    );
    const registry = createPackRegistry({ searchFrom: root });
    const wrong = await registry.resolve('acme.deployer.liar').catch((e: unknown) => e);
    expect(isEnvPackError(wrong, 'invalid-pack')).toBe(true);
    expect((wrong as Error).message).toContain('its factory returned acme.deployer.other');
    const missing = await registry.resolve('acme.deployer.missing').catch((e: unknown) => e);
    expect(isEnvPackError(missing, 'invalid-pack')).toBe(true);
    expect((missing as Error).message).toContain('exports no such function');
  });

  it('registers packs from code under the same duplicate rule', async () => {
    const registry = createPackRegistry();
    registry.register({ id: 'test.secrets.memory', slot: 'secrets', packageName: 'test' }, () => ({
      id: 'test.secrets.memory',
      slot: 'secrets',
      set: async () => {},
      list: async () => [],
      delete: async () => {},
      resolver: () => ({ resolve: async () => 'v' }),
    }));
    expect(registry.has('test.secrets.memory')).toBe(true);
    expect((await registry.resolve('test.secrets.memory')).slot).toBe('secrets');
    expect(() =>
      registry.register({ id: 'test.secrets.memory', slot: 'secrets', packageName: 'other' }, () => {
        throw new Error('unused');
      }),
    ).toThrow(/claimed by two packages: test and other/);
  });
});
