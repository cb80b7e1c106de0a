import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PackContext, RevisionTarget } from '@greentic/env-pack';
import { expect, it } from 'vitest';
import { createDeployer } from '../src/index';

it('runs hello-worker as a revision, then drains and archives it', async () => {
  const deployer = createDeployer({
    config: { bundlesDir: fileURLToPath(new URL('../../../examples/', import.meta.url)) },
  });
  const ctx: PackContext = {
    environment: { name: 'local', slots: {}, config: {} },
    stateDir: mkdtempSync(join(tmpdir(), 'greentic-local-')),
  };
  const bundle = { id: 'hello-worker', version: '1.0.0', digest: `sha256:${'ab'.repeat(32)}` };
  const target: RevisionTarget = {
    deployment: { environment: 'local', name: 'support', tenant: 'acme', billingCustomer: 'acme', bundleId: bundle.id },
    bundle: {
      ...bundle,
      capabilities: [],
      secrets: [],
      runtime: [],
      launch: { command: ['{node}', '{bundleDir}/server.mjs'] },
    },
    revision: {
      environment: 'local',
      deployment: 'support',
      id: 'r1',
      bundle,
      packConfig: {},
      secretRefs: [],
      state: 'staged',
      createdAt: new Date().toISOString(),
    },
    weight: 0,
  };

  await deployer.apply(ctx, target);
  const { endpoint } = await deployer.warm(ctx, target, { timeoutMs: 15_000 });
  const answer = (await (await fetch(endpoint)).json()) as { revision: string };
  expect(answer.revision).toBe('r1');
  expect((await deployer.status(ctx)).revisions[0]?.phase).toBe('running');

  await deployer.drain(ctx, target, { timeoutMs: 5_000 }); // SIGTERM; in-flight requests finish
  await deployer.archive(ctx, target);
  expect((await deployer.status(ctx)).revisions).toEqual([]);
  rmSync(ctx.stateDir, { recursive: true, force: true });
});
