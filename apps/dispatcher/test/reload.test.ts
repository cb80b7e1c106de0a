import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RuntimeConfig } from '@greentic/deploy-spec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFolderConfigSource, startDispatcher } from '../src/index';
import { createConfigFolder, get, oneDeployment, quiet, startWorker, type Worker } from './helpers';

describe('config reload', () => {
  let blue: Worker;
  let green: Worker;
  let red: Worker;

  beforeAll(async () => {
    [blue, green, red] = await Promise.all([startWorker('blue'), startWorker('green'), startWorker('red')]);
  });
  afterAll(async () => {
    await Promise.all([blue?.close(), green?.close(), red?.close()]);
  });

  it('drops no request while the config is swapped 60 times under load', async () => {
    const folder = await createConfigFolder();
    await folder.write(oneDeployment(1, [{ id: 'blue', weight: 10_000, endpoint: blue.url }]));
    const d = await startDispatcher({ configDir: folder.dir, listen: '127.0.0.1:0', log: quiet });
    try {
      await d.waitForGeneration(1);
      let reloading = true;
      const reloads = (async () => {
        for (let g = 2; g <= 61; g++) {
          // Revisions come and go, weights swing; a request in flight to a removed revision still completes.
          const revisions =
            g % 3 === 0
              ? [
                  { id: 'blue', weight: 5000, endpoint: blue.url },
                  { id: 'green', weight: 5000, endpoint: green.url },
                ]
              : g % 3 === 1
                ? [
                    { id: 'green', weight: 2000, endpoint: green.url },
                    { id: 'red', weight: 8000, endpoint: red.url },
                  ]
                : [{ id: 'red', weight: 10_000, endpoint: red.url }];
          await folder.write(oneDeployment(g, revisions));
          await d.waitForGeneration(g);
        }
        reloading = false;
      })();
      const statuses: number[] = [];
      await Promise.all(
        Array.from({ length: 32 }, async (_, lane) => {
          for (let i = 0; reloading || i < 20; i++) {
            const session = i % 2 === 0 ? { 'x-greentic-session': `lane-${lane}-${i % 7}` } : {};
            const path = i % 5 === 0 ? '/slow?ms=15' : '/';
            statuses.push((await get(d.url, path, session)).status);
          }
        }),
      );
      await reloads;
      expect(d.generation).toBe(61);
      expect(statuses.length).toBeGreaterThan(1000);
      expect(statuses.filter((s) => s !== 200)).toEqual([]);
    } finally {
      await d.close();
      await folder.remove();
    }
  });

  it('keeps the config in force when a new document is invalid or older, and says why', async () => {
    const folder = await createConfigFolder();
    const lines: string[] = [];
    await folder.write(oneDeployment(5, [{ id: 'blue', weight: 10_000, endpoint: blue.url }]));
    const d = await startDispatcher({ configDir: folder.dir, listen: '127.0.0.1:0', log: (l) => lines.push(l) });
    try {
      await d.waitForGeneration(5);
      await folder.write({ ...oneDeployment(6, []), deployments: [{ name: 'support' }] } as unknown as RuntimeConfig);
      await expect.poll(() => lines.join('\n')).toMatch(/refused, keeping generation 5:\n\/deployments\/0/);
      await folder.write(oneDeployment(4, [{ id: 'green', weight: 10_000, endpoint: green.url }]));
      await expect.poll(() => lines.join('\n')).toMatch(/generation 4, older than 5; ignored/);
      expect(d.generation).toBe(5);
      expect((await get(d.url, '/')).worker).toBe('blue');
      await folder.write(oneDeployment(7, [{ id: 'green', weight: 10_000, endpoint: green.url }]));
      await d.waitForGeneration(7);
      expect((await get(d.url, '/')).worker).toBe('green');
    } finally {
      await d.close();
      await folder.remove();
    }
  });

  it('follows a Kubernetes ConfigMap mount (atomic ..data symlink swap)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'greentic-configmap-'));
    const publish = async (n: number, config: RuntimeConfig) => {
      // What the kubelet does: write a new timestamped folder, point ..data_tmp at it, rename over ..data.
      const version = `..2026_11_23_${n}`;
      await mkdir(join(dir, version));
      await writeFile(join(dir, version, 'runtime-config.json'), JSON.stringify(config));
      await symlink(version, join(dir, '..data_tmp'));
      await rename(join(dir, '..data_tmp'), join(dir, '..data'));
      if (n === 1) await symlink('..data/runtime-config.json', join(dir, 'runtime-config.json'));
    };
    await publish(1, oneDeployment(1, [{ id: 'blue', weight: 10_000, endpoint: blue.url }]));
    const d = await startDispatcher({ configDir: dir, listen: '127.0.0.1:0', log: quiet });
    try {
      await d.waitForGeneration(1);
      expect((await get(d.url, '/')).worker).toBe('blue');
      await publish(2, oneDeployment(2, [{ id: 'red', weight: 10_000, endpoint: red.url }]));
      await d.waitForGeneration(2, 5000);
      expect((await get(d.url, '/')).worker).toBe('red');
    } finally {
      await d.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('the folder source reports an unreadable file once and recovers when it appears', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'greentic-source-'));
    const docs: unknown[] = [];
    const errors: string[] = [];
    const source = createFolderConfigSource({ dir, pollMs: 50 });
    try {
      await source.start({ onConfig: (doc) => docs.push(doc), onError: (e) => errors.push(`${e.code}: ${e.message}`) });
      await new Promise((r) => setTimeout(r, 200));
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(/config-unreadable: .*cannot read .*runtime-config.json \(ENOENT\)/);
      await writeFile(join(dir, 'runtime-config.json'), '{"generation": 1}');
      await expect.poll(() => docs).toEqual([{ generation: 1 }]);
      await writeFile(join(dir, 'runtime-config.json'), '{"generation": 1}'); // same text: not delivered again
      await new Promise((r) => setTimeout(r, 150));
      expect(docs).toHaveLength(1);
    } finally {
      await source.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
