import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { renderManifests, workerName } from './render';
import { renderToFolder } from './render-to-folder';
import { sampleDesiredState, sampleEnvironment } from './testing/sample-environment';

const env = sampleEnvironment('staging');
const v1 = sampleDesiredState(env, [
  { deployment: 'support', id: 'r1', state: 'ready', weight: 10000 },
  { deployment: 'support', id: 'r2', state: 'warming' },
]);
const v2 = sampleDesiredState(env, [
  { deployment: 'support', id: 'r1', state: 'archived' },
  { deployment: 'support', id: 'r2', state: 'ready', weight: 10000 },
]);

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'greentic-k8s-render-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('renderToFolder', () => {
  it('writes one file per object and reports them as added', async () => {
    const files = renderManifests(v1);
    const changes = await renderToFolder(dir, files);
    expect(changes.added).toEqual(files.map((f) => f.path).sort());
    expect((await readdir(dir)).sort()).toEqual(files.map((f) => f.path).sort());
    expect(await readFile(join(dir, files[0]?.path ?? ''), 'utf8')).toBe(files[0]?.content);
  });

  it('changes nothing the second time', async () => {
    await renderToFolder(dir, renderManifests(v1));
    const again = await renderToFolder(dir, renderManifests(v1));
    expect(again).toMatchObject({ added: [], changed: [], removed: [] });
  });

  it("removes the retired revision's files, rewrites changed ones, and never touches other files", async () => {
    await renderToFolder(dir, renderManifests(v1));
    await writeFile(join(dir, 'kustomization.yaml'), 'resources: []\n');
    await writeFile(join(dir, 'README.md'), 'mine\n');
    const changes = await renderToFolder(dir, renderManifests(v2));
    const r1 = workerName('support', 'r1');
    expect(changes.removed).toEqual([`deployment-${r1}.yaml`, `service-${r1}.yaml`]);
    expect(changes.changed).toEqual(['configmap-greentic-runtime-config.yaml']);
    expect(changes.added).toEqual([]);
    expect(await readFile(join(dir, 'kustomization.yaml'), 'utf8')).toBe('resources: []\n');
    expect(await readFile(join(dir, 'README.md'), 'utf8')).toBe('mine\n');
  });

  it('refuses to overwrite a file it did not write, and writes nothing', async () => {
    const files = renderManifests(v1);
    const foreign = files[0]?.path ?? '';
    await writeFile(join(dir, foreign), 'hand-written\n');
    await expect(renderToFolder(dir, files)).rejects.toThrow(/was not written by greentic.deployer.k8s/);
    expect(await readdir(dir)).toEqual([foreign]);
  });
});
