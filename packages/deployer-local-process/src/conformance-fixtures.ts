import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DeployerFixtures } from '@greentic/conformance';
import { contentDigest, type Environment, type RuntimeConfig } from '@greentic/deploy-spec';
import { EnvPackError, type PackContext, type RevisionTarget } from '@greentic/env-pack';
import { PACK_ID, requirements } from './credentials';
import { createDeployer } from './deployer';
import { type AppliedRevision, type ProcessRecord, readJson, revisionDir, runtimeConfigPath } from './files';
import { isOurs, readProcStat, stopProcess, waitGone } from './processes';

/** Options of `createConformanceFixtures`. */
export interface LocalProcessFixtureOptions {
  /** State folder (default: a fresh temporary folder, removed by cleanup). */
  readonly stateDir?: string;
  /** Folder holding `hello-worker/` (default: the repository's `examples/`). */
  readonly bundlesDir?: string;
  /** Environment name (default `conformance`). */
  readonly environment?: string;
  /** Progress lines of the deployer (they are also collected to track started pids). */
  readonly log?: (line: string) => void;
}

/** The fixtures, plus what the local-process tests need to prove no worker outlives them. */
export interface LocalProcessFixtures extends DeployerFixtures {
  /** Every worker pid the deployer reported starting. */
  spawnedPids(): number[];
  /**
   * Every worker the deployer reported starting, with its start time, so a leak check can tell a surviving worker
   * from an unrelated process that was handed the same pid later (and never signals the latter).
   */
  spawnedWorkers(): { readonly pid: number; readonly startTime: string }[];
}

const DEFAULT_BUNDLES_DIR = fileURLToPath(new URL('../../../examples/', import.meta.url));

/**
 * Conformance fixtures for greentic.deployer.local-process, running the `examples/hello-worker` bundle:
 * healthy targets, failing ones (`HELLO_FAIL=health`), out-of-band tampering (SIGKILL, SIGUSR2 "changed"),
 * and local grants for credentials verify.
 *
 * @example
 * import { runConformance, formatReport } from '@greentic/conformance';
 * console.log(formatReport(await runConformance({ name: 'local-process', create: () => createConformanceFixtures() })));
 */
export function createConformanceFixtures(options: LocalProcessFixtureOptions = {}): LocalProcessFixtures {
  const bundlesDir = options.bundlesDir ?? DEFAULT_BUNDLES_DIR;
  if (!existsSync(join(bundlesDir, 'hello-worker', 'server.mjs'))) {
    throw new EnvPackError(
      'not-found',
      `conformance fixtures need the hello-worker bundle at ${join(bundlesDir, 'hello-worker', 'server.mjs')}; pass bundlesDir`,
      { pack: PACK_ID },
    );
  }
  const ownsStateDir = options.stateDir === undefined;
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), 'greentic-local-process-'));
  const environment: Environment = {
    name: options.environment ?? 'conformance',
    slots: { deployer: { id: PACK_ID } },
    config: {},
  };
  const workers = new Map<number, string>(); // pid → start time, read as soon as the deployer reports the spawn
  const ctx: PackContext = {
    environment,
    stateDir,
    log: (line) => {
      const m = /started pid (\d+)/.exec(line);
      if (m?.[1]) {
        const pid = Number(m[1]);
        workers.set(pid, readProcStat(pid)?.startTime ?? 'gone');
      }
      options.log?.(line);
    },
  };
  const pack = createDeployer({ config: { bundlesDir, stopGraceMs: 3_000 } });

  function target(deployment: string, tenant: string, revisionId: string, failing: boolean): RevisionTarget {
    const digest = contentDigest({ bundle: 'hello-worker', deployment, revision: revisionId, failing });
    return {
      deployment: {
        environment: environment.name,
        name: deployment,
        tenant,
        billingCustomer: tenant,
        bundleId: 'hello-worker',
      },
      bundle: {
        id: 'hello-worker',
        version: '1.0.0',
        digest,
        capabilities: [],
        secrets: [],
        runtime: [],
        launch: { command: ['{node}', '{bundleDir}/server.mjs'], healthPath: '/healthz' },
      },
      revision: {
        environment: environment.name,
        deployment,
        id: revisionId,
        bundle: { id: 'hello-worker', version: '1.0.0', digest },
        packConfig: failing ? { [PACK_ID]: { 'env.HELLO_FAIL': 'health' } } : {},
        secretRefs: [],
        state: 'staged',
        createdAt: new Date().toISOString(),
      },
      weight: 0,
    };
  }

  function processOf(t: RevisionTarget): ProcessRecord {
    const rec = readJson<ProcessRecord>(join(revisionDir(stateDir, t.deployment.name, t.revision.id), 'process.json'));
    if (!rec || !isOurs(rec))
      throw new Error(`[fixtures] revision ${t.revision.id} of ${t.deployment.name} has no live worker to tamper with`);
    return rec;
  }

  const grant = (permissions: unknown) => ({ value: JSON.stringify({ subject: 'conformance', permissions }) });
  const need = requirements(ctx);

  return {
    pack,
    ctx,
    healthyTarget: (d, tenant, r) => target(d, tenant, r, false),
    failingTarget: (d, tenant, r) => target(d, tenant, r, true),
    tamper: {
      async killWorker(t) {
        const rec = processOf(t);
        process.kill(rec.pid, 'SIGKILL');
        await waitGone(rec, 5_000);
      },
      async changeWorker(t) {
        // hello-worker reports another bundle digest after SIGUSR2: new code behind the deployer's back.
        process.kill(processOf(t).pid, 'SIGUSR2');
        await new Promise((r) => setTimeout(r, 100));
      },
    },
    credentials: {
      missing: grant(need.map((p) => (p.resource === 'process' ? { ...p, verbs: ['spawn'] } : p))),
      extra: grant([...need, { resource: 'process', verbs: ['ptrace'], scope: 'host' }]),
      exact: grant(need),
    },
    async publishedRoutes() {
      return readJson<RuntimeConfig>(runtimeConfigPath(stateDir));
    },
    spawnedPids: () => [...workers.keys()],
    spawnedWorkers: () => [...workers].map(([pid, startTime]) => ({ pid, startTime })),
    async cleanup() {
      // Archive whatever the checks left behind, through the pack, then make sure no worker survives.
      const root = join(stateDir, 'revisions');
      if (existsSync(root)) {
        for (const d of readdirSync(root)) {
          for (const r of readdirSync(join(root, d))) {
            const applied = readJson<AppliedRevision>(join(root, d, r, 'revision.json'));
            await pack.archive(ctx, target(d, applied?.tenant ?? 'unknown', r, false)).catch(async () => {
              const rec = readJson<ProcessRecord>(join(root, d, r, 'process.json'));
              if (rec) await stopProcess(rec, 1_000);
            });
          }
        }
      }
      if (ownsStateDir) rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
