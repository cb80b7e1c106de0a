import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { contentDigest, type Environment } from '@greentic/deploy-spec';
import type { DeployerPack, PackContext, RevisionTarget } from '@greentic/env-pack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  closeHostConnection,
  createDeployer,
  hostTargetFromConfig,
  PACK_ID,
  parseHostDeployerConfig,
} from '../src/index';
import { freePort, makeRepo, type Repo, startTestHost, type TestHost } from '../src/throwaway-host';

// Several releases side by side on one host, each revision an instance on its own port, behind the real dispatcher
// (apps/dispatcher, its built binary, as an operator runs it) reading the runtime config the pack publishes into
// <root>/routes. CI builds everything before it tests; locally run `pnpm run build` once.
const DISPATCHER = fileURLToPath(new URL('../../../apps/dispatcher/dist/greentic-dispatcher.js', import.meta.url));

let host: TestHost;
let repo: Repo;
let dispatcher: ChildProcess | undefined;
let config: Record<string, string | number>;

beforeAll(async () => {
  host = await startTestHost();
  repo = makeRepo(host.dir);
});
afterAll(async () => {
  if (dispatcher && dispatcher.exitCode === null) {
    dispatcher.kill('SIGTERM');
    await new Promise((r) => dispatcher?.once('exit', r));
  }
  try {
    execFileSync(host.supervisor, ['stop-all', '-', '-', '-']);
  } catch {
    // nothing running
  }
  if (config) await closeHostConnection(hostTargetFromConfig(parseHostDeployerConfig(config)));
  await host?.stop();
});

describe('releases side by side behind the dispatcher', () => {
  it('serves two commits at once on their own ports, dialled by the published routes, and drains one', async () => {
    if (!existsSync(DISPATCHER)) throw new Error(`${DISPATCHER} is missing: run \`pnpm run build\` first`);
    const shaA = repo.commit('release A');
    const shaB = repo.commit('release B');
    const root = join(host.dir, 'side-by-side');
    const sup = host.supervisor;
    config = {
      host: '127.0.0.1',
      port: host.port,
      user: userInfo().username,
      identityFile: host.identityFile,
      knownHostsFile: host.knownHostsFile,
      controlPath: join(host.dir, 'cm-side-%C'),
      root,
      worktree: repo.dir,
      portRangeStart: await freePort(),
      portRangeEnd: 65_000,
      instanceStart: `${sup} start "$GREENTIC_INSTANCE" "$GREENTIC_DIR/release" "$GREENTIC_PORT"`,
      instanceStop: `${sup} stop "$GREENTIC_INSTANCE" - -`,
      instanceStatus: `${sup} alive "$GREENTIC_INSTANCE" - -`,
    };
    const pack = createDeployer({ config }) as DeployerPack;
    const environment: Environment = { name: 'side', slots: { deployer: { id: PACK_ID } }, config: {} };
    const stateDir = join(host.dir, 'side-state');
    mkdirSync(stateDir, { recursive: true });
    const ctx: PackContext = { environment, stateDir };
    const target = (id: string, sha: string): RevisionTarget => {
      const digest = contentDigest({ id, sha });
      const deployment = { environment: 'side', name: 'support', tenant: 'acme', billingCustomer: 'acme' };
      return {
        deployment: { ...deployment, bundleId: 'agent' },
        bundle: { id: 'agent', version: '1.0.0', digest, capabilities: [], secrets: [], runtime: [] },
        revision: {
          environment: 'side',
          deployment: 'support',
          id,
          bundle: { id: 'agent', version: '1.0.0', digest },
          packConfig: { [PACK_ID]: { sha, label: id } },
          secretRefs: [],
          state: 'staged',
          createdAt: '2026-01-01T00:00:00Z',
        },
        weight: 0,
      };
    };
    const r1 = target('r1', shaA);
    const r2 = target('r2', shaB);
    const endpoints: string[] = [];
    for (const t of [r1, r2]) {
      await pack.apply(ctx, t);
      endpoints.push((await pack.warm(ctx, t, { timeoutMs: 20_000 })).endpoint);
    }
    expect(new Set(endpoints).size).toBe(2); // two instances, two ports
    const as = (t: RevisionTarget, state: 'ready' | 'draining', weight: number): RevisionTarget => ({
      ...t,
      revision: { ...t.revision, state },
      weight,
    });
    let generation = 0;
    const publish = async (targets: RevisionTarget[]) => {
      const desired = { environment, targets };
      generation++;
      await pack.publishRoutes(ctx, pack.runtimeConfig(desired, await pack.status(ctx), generation));
    };
    await publish([as(r1, 'ready', 5000), as(r2, 'ready', 5000)]);

    const [listen, admin] = [await freePort(), await freePort()];
    const logs: Buffer[] = [];
    dispatcher = spawn(
      process.execPath,
      [
        DISPATCHER,
        '--config-dir',
        join(root, 'routes'),
        '--listen',
        `127.0.0.1:${listen}`,
        '--admin-listen',
        `127.0.0.1:${admin}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    dispatcher.stdout?.on('data', (b: Buffer) => logs.push(b));
    dispatcher.stderr?.on('data', (b: Buffer) => logs.push(b));
    // What the pack published last (a drain bumps the generation too): the dispatcher must come to exactly that.
    const published = () =>
      (JSON.parse(readFileSync(join(root, 'routes', 'runtime-config.json'), 'utf8')) as { generation: number })
        .generation;
    const inForce = async () => {
      const want = published();
      for (let i = 0; i < 200; i++) {
        const snap = await fetch(`http://127.0.0.1:${admin}/admin/revisions`)
          .then((r) => (r.ok ? (r.json() as Promise<{ generation?: number }>) : undefined))
          .catch(() => undefined);
        if (snap?.generation === want) return;
        await sleep(50);
      }
      throw new Error(`dispatcher never took generation ${want}: ${Buffer.concat(logs).toString()}`);
    };
    const shasServed = async (n: number) => {
      const seen: string[] = [];
      for (let i = 0; i < n; i++) {
        const res = await fetch(`http://127.0.0.1:${listen}/`, { headers: { 'x-greentic-tenant': 'acme' } });
        expect(res.status).toBe(200);
        seen.push(((await res.json()) as { sha: string }).sha);
      }
      return seen;
    };
    await inForce();
    const split = await shasServed(60);
    expect(new Set(split)).toEqual(new Set([shaA, shaB]));

    // The dial moves all traffic to B; A keeps running until drained, then stops; B alone answers throughout.
    await publish([as(r1, 'ready', 0), as(r2, 'ready', 10_000)]);
    await inForce();
    expect(new Set(await shasServed(20))).toEqual(new Set([shaB]));
    await pack.drain(ctx, as(r1, 'draining', 0), { timeoutMs: 20_000 });
    await publish([as(r2, 'ready', 10_000)]);
    await inForce();
    expect(new Set(await shasServed(20))).toEqual(new Set([shaB]));
    const live = await pack.status(ctx);
    expect(live.revisions.map((r) => [r.revision, r.phase])).toEqual([
      ['r1', 'stopped'],
      ['r2', 'running'],
    ]);
    // Both releases stay on the host, side by side, immutable.
    expect(readFileSync(join(root, 'releases', `${shaA}-r1`, '.release.json'), 'utf8')).toContain(shaA);
    expect(readFileSync(join(root, 'releases', `${shaB}-r2`, '.release.json'), 'utf8')).toContain(shaB);
  });
});
