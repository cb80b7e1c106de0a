import type { RouteRevision } from '@greentic/deploy-spec';
import type { DeployerPack, LiveRevision, LiveStatus, RevisionTarget } from '@greentic/env-pack';
import type { CheckId, ConformanceOptions, DeployerFixtures } from './fixtures';
import { type ConformanceReport, runConformance } from './runner';

// Deliberately broken deployers. Each wraps a working pack and breaks one promise the way real deployers get it
// wrong; the suite must catch every one. They wrap any DeployerPack, so an author can also run them against
// their own deployer (runMutants) to see that the suite bites.

/** A deliberately broken deployer: which promise it breaks and which check is meant to catch it. */
export interface Mutant {
  readonly id: string;
  readonly breaks: string;
  /** The check that should catch it. */
  readonly caughtBy: CheckId;
  wrap(pack: DeployerPack): DeployerPack;
}

/** A pack that delegates every member to `pack`, with some replaced. Works for class instances too. */
function delegate(pack: DeployerPack, overrides: Partial<DeployerPack>): DeployerPack {
  const base: DeployerPack = {
    id: pack.id,
    slot: 'deployer',
    capabilities: pack.capabilities,
    credentials: pack.credentials,
    preflight: (ctx) => pack.preflight(ctx),
    plan: (d, l) => pack.plan(d, l),
    apply: (ctx, t) => pack.apply(ctx, t),
    warm: (ctx, t, b) => pack.warm(ctx, t, b),
    drain: (ctx, t, b) => pack.drain(ctx, t, b),
    archive: (ctx, t) => pack.archive(ctx, t),
    status: (ctx, s) => pack.status(ctx, s),
    runtimeConfig: (d, l, g) => pack.runtimeConfig(d, l, g),
    publishRoutes: (ctx, c) => pack.publishRoutes(ctx, c),
    close: async () => {
      await pack.close?.();
    },
  };
  return { ...base, ...overrides };
}

const key = (t: RevisionTarget) => `${t.deployment.name}/${t.revision.id}`;

/** The shipped mutants, one per check family. */
export const MUTANTS: readonly Mutant[] = [
  {
    id: 'warm-restarts-worker',
    breaks: 'warm is not idempotent: every call replaces the worker with a new one',
    caughtBy: 'idempotent-lifecycle',
    wrap(pack) {
      const warmed = new Set<string>();
      return delegate(pack, {
        async warm(ctx, t, budget) {
          if (warmed.has(key(t))) await pack.archive(ctx, { ...t, weight: 0 });
          const r = await pack.warm(ctx, t, budget);
          warmed.add(key(t));
          return r;
        },
        async archive(ctx, t) {
          warmed.delete(key(t));
          await pack.archive(ctx, t);
        },
      });
    },
  },
  {
    id: 'weight-to-every-revision',
    breaks: 'the runtime config spreads traffic over every live endpoint, draining ones included',
    caughtBy: 'routing-ready-only',
    wrap(pack) {
      return delegate(pack, {
        runtimeConfig(desired, live, generation) {
          const cfg = pack.runtimeConfig(desired, live, generation);
          return {
            ...cfg,
            deployments: cfg.deployments.map((d) => {
              const endpoints = live.revisions.filter((r) => r.deployment === d.name && r.endpoint);
              const share = Math.floor(10_000 / Math.max(1, endpoints.length));
              const revisions: RouteRevision[] = endpoints.map((r, i) => ({
                id: r.revision,
                state: 'ready',
                endpoint: r.endpoint as string,
                weight: i === 0 ? 10_000 - share * (endpoints.length - 1) : share,
              }));
              return { ...d, revisions };
            }),
          };
        },
      });
    },
  },
  {
    id: 'archive-by-revision-id',
    breaks: 'archive removes every revision with that id, in every deployment and tenant',
    caughtBy: 'isolation',
    wrap(pack) {
      const seen = new Map<string, RevisionTarget>();
      return delegate(pack, {
        async apply(ctx, t) {
          seen.set(key(t), t);
          await pack.apply(ctx, t);
        },
        async archive(ctx, t) {
          await pack.archive(ctx, t);
          for (const other of [...seen.values()]) {
            if (other.revision.id === t.revision.id && key(other) !== key(t)) {
              await pack.archive(ctx, { ...other, weight: 0 });
            }
          }
        },
      });
    },
  },
  {
    id: 'archive-ignores-weight',
    breaks: 'archive goes ahead while the revision still holds traffic',
    caughtBy: 'archive-refused-with-weight',
    wrap(pack) {
      return delegate(pack, {
        archive: (ctx, t) => pack.archive(ctx, { ...t, weight: 0 }),
        drain: (ctx, t, b) => pack.drain(ctx, { ...t, weight: 0 }, b),
      });
    },
  },
  {
    id: 'drain-kills-in-flight',
    breaks: 'drain stops the worker at once instead of letting in-flight requests finish',
    caughtBy: 'drain-in-flight',
    wrap(pack) {
      return delegate(pack, { drain: (ctx, t) => pack.drain(ctx, t, { timeoutMs: 0 }) });
    },
  },
  {
    id: 'status-from-memory',
    breaks: 'status repeats what the deployer did last instead of reading the live system',
    caughtBy: 'status-drift',
    wrap(pack) {
      const memory = new Map<string, LiveRevision>();
      const remember = (t: RevisionTarget, phase: LiveRevision['phase'], endpoint?: string) =>
        memory.set(key(t), {
          deployment: t.deployment.name,
          tenant: t.deployment.tenant,
          revision: t.revision.id,
          phase,
          bundleDigest: t.bundle.digest,
          ...(endpoint ? { endpoint } : {}),
        });
      return delegate(pack, {
        async apply(ctx, t) {
          await pack.apply(ctx, t);
          if (!memory.has(key(t))) remember(t, 'stopped');
        },
        async warm(ctx, t, b) {
          const r = await pack.warm(ctx, t, b);
          remember(t, 'running', r.endpoint);
          return r;
        },
        async drain(ctx, t, b) {
          await pack.drain(ctx, t, b);
          remember(t, 'stopped');
        },
        async archive(ctx, t) {
          await pack.archive(ctx, t);
          memory.delete(key(t));
        },
        async status(ctx, scope): Promise<LiveStatus> {
          return {
            environment: ctx.environment.name,
            observedAt: new Date().toISOString(),
            revisions: [...memory.values()].filter(
              (r) => scope?.deployment === undefined || r.deployment === scope.deployment,
            ),
          };
        },
      });
    },
  },
  {
    id: 'warm-hangs-on-failure',
    breaks: 'warm of an unhealthy revision waits forever instead of failing within its timeout',
    caughtBy: 'failing-health',
    wrap(pack) {
      const closed = new AbortController();
      return delegate(pack, {
        async warm(ctx, t, b) {
          try {
            return await pack.warm(ctx, t, b);
          } catch {
            // The bug: swallow the failure and keep "waiting" (until the pack is closed).
            return await new Promise((_, reject) => {
              closed.signal.addEventListener('abort', () => reject(new Error('closed')), { once: true });
            });
          }
        },
        async close() {
          closed.abort();
          await pack.close?.();
        },
      });
    },
  },
  {
    id: 'credentials-ignore-extra',
    breaks: 'credentials verify only checks for missing rights and accepts over-privileged keys',
    caughtBy: 'credentials-verify',
    wrap(pack) {
      return delegate(pack, {
        credentials: {
          requirements: (ctx) => pack.credentials.requirements(ctx),
          bootstrap: (ctx, m) => pack.credentials.bootstrap(ctx, m),
          async verify(ctx, c) {
            const r = await pack.credentials.verify(ctx, c);
            return { ...r, ok: r.missing.length === 0, extra: [] };
          },
        },
      });
    },
  },
];

/** One mutant's run: did the suite fail it, and which checks caught it. */
export interface MutantResult {
  readonly mutant: Mutant;
  readonly caught: boolean;
  readonly caughtBy: readonly CheckId[];
  readonly report: ConformanceReport;
}

/**
 * Run the suite against each mutant of the author's own deployer (fixtures built by `options.create`, the pack
 * wrapped by the mutant). Stops each run at its first failed check.
 *
 * @example
 * for (const r of await runMutants({ name: 'acme', create: createAcmeFixtures }))
 *   console.log(`${r.mutant.id}: ${r.caught ? `caught by ${r.caughtBy.join(', ')}` : 'NOT CAUGHT'}`);
 */
export async function runMutants(
  options: ConformanceOptions & { readonly mutants?: readonly Mutant[] },
): Promise<MutantResult[]> {
  const out: MutantResult[] = [];
  for (const mutant of options.mutants ?? MUTANTS) {
    const report = await runConformance({
      ...options,
      name: `${options.name} × ${mutant.id}`,
      bail: true,
      create: async (): Promise<DeployerFixtures> => {
        const f = await options.create();
        return Object.assign(Object.create(Object.getPrototypeOf(f) as object) as DeployerFixtures, f, {
          pack: mutant.wrap(f.pack),
        });
      },
    });
    out.push({ mutant, caught: !report.passed, caughtBy: report.failed, report });
  }
  return out;
}
