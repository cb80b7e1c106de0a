import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, symlinkSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DeployerFixtures } from '@greentic/conformance';
import { contentDigest, type Environment, type RuntimeConfig } from '@greentic/deploy-spec';
import type { PackContext, RevisionTarget } from '@greentic/env-pack';
import {
  closeHostConnection,
  createDeployer,
  hostTargetFromConfig,
  PACK_ID,
  parseHostDeployerConfig,
} from '../src/index';
import { freePort, makeRepo, type Repo, startTestHost, type TestHost } from './throwaway-host';

/**
 * Conformance fixtures for the host-release pack on a given throwaway host and repository.
 *
 * @example
 * const fixtures = await createHostFixtures(host, makeRepo(host.dir));
 */
export async function createHostFixtures(host: TestHost, repo: Repo): Promise<DeployerFixtures & { root: string }> {
  const healthySha = repo.commit('conformance healthy');
  const failingSha = repo.commit('conformance failing', { healthy: false });
  const otherSha = repo.commit('conformance changed behind our back');
  const root = join(host.dir, 'conformance-root');
  const sup = host.supervisor;
  const config = {
    host: '127.0.0.1',
    port: host.port,
    user: userInfo().username,
    identityFile: host.identityFile,
    knownHostsFile: host.knownHostsFile,
    controlPath: join(host.dir, 'cm-pack-%C'),
    root,
    worktree: repo.dir,
    portRangeStart: await freePort(),
    portRangeEnd: 65_000,
    instanceStart: `${sup} start "$GREENTIC_INSTANCE" "$GREENTIC_DIR/release" "$GREENTIC_PORT"`,
    instanceStop: `${sup} stop "$GREENTIC_INSTANCE" - -`,
    instanceStatus: `${sup} alive "$GREENTIC_INSTANCE" - -`,
  };
  const pack = createDeployer({ config });
  const environment: Environment = { name: 'conformance', slots: { deployer: { id: PACK_ID } }, config: {} };
  const stateDir = join(host.dir, 'conformance-state');
  mkdirSync(stateDir, { recursive: true });
  const ctx: PackContext = { environment, stateDir };

  function target(deployment: string, tenant: string, revisionId: string, healthy: boolean): RevisionTarget {
    const digest = contentDigest({ deployment, revisionId, healthy });
    const sha = healthy ? healthySha : failingSha;
    return {
      deployment: {
        environment: environment.name,
        name: deployment,
        tenant,
        billingCustomer: tenant,
        bundleId: 'agent',
      },
      bundle: {
        id: 'agent',
        version: '1.0.0',
        digest,
        capabilities: [],
        secrets: [],
        runtime: [],
        launch: { healthPath: '/healthz' },
      },
      revision: {
        environment: environment.name,
        deployment,
        id: revisionId,
        bundle: { id: 'agent', version: '1.0.0', digest },
        packConfig: { [PACK_ID]: { sha } },
        secretRefs: [],
        state: 'staged',
        createdAt: new Date().toISOString(),
      },
      weight: 0,
    };
  }
  const instance = (t: RevisionTarget) => `${t.deployment.tenant}.${t.deployment.name}.${t.revision.id}`;
  const pidOf = (t: RevisionTarget) => Number(readFileSync(join(host.stateDir, `${instance(t)}.pid`), 'utf8'));
  const gone = (pid: number) => {
    try {
      return /State:\s+Z/.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
    } catch {
      return true;
    }
  };

  const strangerKey = join(host.dir, 'stranger_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'stranger', '-f', strangerKey]);

  return {
    root,
    pack,
    ctx,
    healthyTarget: (d, tenant, r) => target(d, tenant, r, true),
    failingTarget: (d, tenant, r) => target(d, tenant, r, false),
    tamper: {
      async killWorker(t) {
        const pid = pidOf(t);
        process.kill(pid, 'SIGKILL');
        for (let i = 0; i < 100 && !gone(pid); i++) await sleep(50);
      },
      async changeWorker(t) {
        // Another actor unpacks a different commit by hand, re-points the instance at it and restarts it.
        const rel = join(root, 'releases', `${otherSha}-by-hand`);
        if (!existsSync(rel)) {
          mkdirSync(rel);
          execFileSync('sh', ['-c', `git -C "${repo.dir}" archive ${otherSha} | tar -x -C "${rel}"`]);
        }
        const dir = join(root, 'instances', instance(t));
        symlinkSync(rel, join(dir, 'release.tmp'));
        renameSync(join(dir, 'release.tmp'), join(dir, 'release'));
        const port = readFileSync(join(dir, 'port'), 'utf8').trim();
        execFileSync(sup, ['restart', instance(t), join(dir, 'release'), port]);
      },
    },
    credentials: {
      // A key the host does not accept: the deployer cannot even log in.
      missing: { value: readFileSync(strangerKey, 'utf8') },
      // root: can do everything on the host, far more than a deployer needs.
      extra: { params: { identityFile: host.identityFile } },
    },
    async publishedRoutes() {
      const f = join(root, 'routes', 'runtime-config.json');
      return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as RuntimeConfig) : undefined;
    },
    async cleanup() {
      try {
        execFileSync(sup, ['stop-all', '-', '-', '-']);
      } finally {
        await closeHostConnection(hostTargetFromConfig(parseHostDeployerConfig(config)));
      }
    },
  };
}

/**
 * Conformance fixtures that own everything they need (the `conformance` export named in package.json, used by
 * `gtc op env-packs conformance greentic.deployer.host-release`): a throwaway sshd on 127.0.0.1, a git repository
 * with a healthy and a failing worker commit, a release root and the supervisor; `cleanup()` stops and removes all of
 * it. Needs /usr/sbin/sshd (Debian openssh-server).
 *
 * @example
 * import { runConformance } from '@greentic/conformance';
 * const report = await runConformance({ name: 'greentic.deployer.host-release', create: () => createConformanceFixtures() });
 */
export async function createConformanceFixtures(): Promise<DeployerFixtures> {
  const host = await startTestHost();
  try {
    const fixtures = await createHostFixtures(host, makeRepo(host.dir));
    return {
      ...fixtures,
      async cleanup() {
        try {
          await fixtures.cleanup();
        } finally {
          await host.stop();
        }
      },
    };
  } catch (e) {
    await host.stop();
    throw e;
  }
}
