import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Permission, RuntimeConfig } from '@greentic/deploy-spec';
import {
  buildRuntimeConfig,
  type DeployerPack,
  diffPermissions,
  EnvPackError,
  type LiveRevision,
  type RevisionTarget,
} from '@greentic/env-pack';

// A complete, minimal deployer: each revision is an HTTP server inside this Node process. It is the README's
// worked example of the contract; the suite runs against it in test/example/in-process-deployer.test.ts.

export const EXAMPLE_PACK_ID = 'example.deployer.in-process';

/** One running revision. `digest` is what it reports serving; tampering may change it behind our back. */
export interface Worker {
  readonly server: Server;
  readonly port: number;
  digest: string;
  draining: boolean;
}

const NEEDS: Permission[] = [{ resource: 'http-server', verbs: ['listen'], scope: 'host' }];
const key = (t: RevisionTarget) => `${t.deployment.name}/${t.revision.id}`;

function refuseWithWeight(t: RevisionTarget, verb: string): void {
  if (t.weight > 0) {
    throw new EnvPackError('refused', `revision ${t.revision.id}: cannot ${verb} while it holds ${t.weight} bps`, {
      pack: EXAMPLE_PACK_ID,
    });
  }
}

async function healthy(w: Worker, t: RevisionTarget): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${w.port}/healthz`, { signal: AbortSignal.timeout(1_000) });
    const body = (await res.json()) as { revision?: string; digest?: string };
    return res.ok && body.revision === t.revision.id && body.digest === t.bundle.digest;
  } catch {
    return false;
  }
}

/** The pack, plus what its fixtures reach behind its back: the workers, and the router's view. */
export interface InProcessDeployer extends DeployerPack {
  readonly workers: Map<string, Worker>;
  publishedRoutes(): RuntimeConfig | undefined;
}

export function createInProcessDeployer(): InProcessDeployer {
  const workers = new Map<string, Worker>();
  const applied = new Map<string, RevisionTarget>();
  let published: RuntimeConfig | undefined;

  async function start(t: RevisionTarget): Promise<Worker> {
    const failing = t.revision.packConfig[EXAMPLE_PACK_ID]?.fail === 'health';
    let worker: Worker | undefined;
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      res.setHeader('connection', 'close'); // no idle keep-alive sockets to hold a drain open
      const body = { revision: t.revision.id, digest: worker?.digest };
      if (url.pathname === '/healthz') {
        res.writeHead(failing ? 503 : 200).end(JSON.stringify(body));
      } else {
        setTimeout(() => res.end(JSON.stringify(body)), Number(url.searchParams.get('ms') ?? 0));
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    worker = { server, port: (server.address() as AddressInfo).port, digest: t.bundle.digest, draining: false };
    workers.set(key(t), worker);
    return worker;
  }

  async function stop(k: string, graceMs: number): Promise<void> {
    const w = workers.get(k);
    if (!w) return;
    w.draining = true;
    const closed = new Promise<void>((resolve) => w.server.close(() => resolve()));
    w.server.closeIdleConnections();
    const timer = setTimeout(() => w.server.closeAllConnections(), graceMs); // in-flight work gets `graceMs`
    await closed;
    clearTimeout(timer);
    workers.delete(k);
  }

  return {
    id: EXAMPLE_PACK_ID,
    slot: 'deployer',
    workers,
    capabilities: { render: false, drainsInFlight: true, credentialsModes: ['A'], summary: 'in-process HTTP servers' },
    async preflight() {
      return { ok: true, checks: [{ name: 'node', ok: true, message: `Node ${process.versions.node}` }] };
    },
    credentials: {
      requirements: () => NEEDS,
      async verify(_ctx, credential) {
        const granted = JSON.parse(credential.value ?? '[]') as Permission[];
        const { missing, extra } = diffPermissions(NEEDS, granted);
        return { ok: missing.length === 0 && extra.length === 0, missing, extra };
      },
      async bootstrap() {
        throw new EnvPackError('unsupported', 'mode B is not offered', { pack: EXAMPLE_PACK_ID });
      },
    },
    plan: () => [],
    async apply(_ctx, t) {
      applied.set(key(t), t);
    },
    async warm(_ctx, t, budget) {
      applied.set(key(t), t);
      const existing = workers.get(key(t));
      const w = existing?.server.listening ? existing : await start(t); // idempotent: same server
      const deadline = Date.now() + budget.timeoutMs;
      while (!(await healthy(w, t))) {
        if (Date.now() >= deadline) {
          await stop(key(t), 0);
          throw new EnvPackError('unhealthy', `revision ${t.revision.id} failed its health check`, {
            pack: EXAMPLE_PACK_ID,
          });
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      return {
        endpoint: `http://127.0.0.1:${w.port}`,
        health: { passed: true, checkedAt: new Date().toISOString() },
      };
    },
    async drain(_ctx, t, budget) {
      refuseWithWeight(t, 'drain');
      const route = published?.deployments.find((d) => d.name === t.deployment.name);
      if (route) {
        route.revisions = route.revisions.map((r) =>
          r.id === t.revision.id ? { ...r, state: 'draining' as const, weight: 0 } : r,
        );
      }
      await stop(key(t), budget.timeoutMs);
    },
    async archive(_ctx, t) {
      refuseWithWeight(t, 'archive');
      await stop(key(t), 1_000);
      applied.delete(key(t));
    },
    async status(ctx, scope) {
      const revisions: LiveRevision[] = [];
      for (const [k, t] of applied) {
        if (scope?.deployment !== undefined && t.deployment.name !== scope.deployment) continue;
        const w = workers.get(k);
        const base = { deployment: t.deployment.name, tenant: t.deployment.tenant, revision: t.revision.id };
        // Re-derived from the live servers, never from what we did last.
        if (!w?.server.listening) revisions.push({ ...base, phase: w ? 'absent' : 'stopped' });
        else {
          const ok = await healthy(w, t);
          const endpoint = `http://127.0.0.1:${w.port}`;
          const phase = w.draining ? 'draining' : ok ? 'running' : 'unhealthy';
          revisions.push({ ...base, phase, endpoint, bundleDigest: w.digest });
        }
      }
      return { environment: ctx.environment.name, observedAt: new Date().toISOString(), revisions };
    },
    runtimeConfig: buildRuntimeConfig,
    async publishRoutes(_ctx, config) {
      for (const d of config.deployments) {
        const sum = d.revisions.reduce((s, r) => s + r.weight, 0);
        if (sum !== 0 && sum !== 10_000) {
          throw new EnvPackError('refused', `deployment ${d.name}: weights sum to ${sum}`, { pack: EXAMPLE_PACK_ID });
        }
      }
      published = structuredClone(config);
    },
    async close() {
      for (const k of [...workers.keys()]) await stop(k, 0);
    },
    publishedRoutes: () => published,
  };
}
