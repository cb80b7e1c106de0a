import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve as resolvePath } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatErrors, parseSecretRef, type RuntimeConfig, validate } from '@greentic/deploy-spec';
import {
  buildRuntimeConfig,
  type DeployerPack,
  EnvPackError,
  type LiveRevision,
  type LiveStatus,
  type PackContext,
  type PackFactoryOptions,
  type PreflightCheck,
  type RevisionTarget,
  routingProblems,
  type WaitBudget,
  type WarmResult,
  waitFor,
} from '@greentic/env-pack';
import { credentials, PACK_ID } from './credentials';
import {
  type AppliedRevision,
  lastLogLines,
  logPath,
  type ProcessRecord,
  readJson,
  removeFile,
  revisionDir,
  runtimeConfigPath,
  writeJsonAtomic,
} from './files';
import { probe } from './health';
import { withLock } from './lock';
import { plan } from './plan';
import { freePort, isOurs, spawnDetached, stopProcess, whyNotOurs } from './processes';

/** Pack config (`slots.deployer.config`) of greentic.deployer.local-process. */
export interface LocalProcessConfig {
  /** Folder holding one folder per bundle id; fills `{bundleDir}` as `<bundlesDir>/<bundle.id>`. */
  readonly bundlesDir?: string;
  /** SIGTERM → SIGKILL grace for archive and failed warms, in ms (default 5000). Drain uses its budget. */
  readonly stopGraceMs?: number;
  /** Per-probe timeout of the health check, in ms (default 1000). */
  readonly probeTimeoutMs?: number;
}

const ENV_PASSTHROUGH = ['PATH', 'HOME', 'LANG', 'TZ', 'TMPDIR', 'SYSTEMROOT'];

function label(target: RevisionTarget): string {
  return `revision ${target.revision.id} of ${target.deployment.environment}/${target.deployment.name}`;
}

function fail(code: ConstructorParameters<typeof EnvPackError>[0], message: string, details?: Record<string, unknown>) {
  return new EnvPackError(code, message, { pack: PACK_ID, ...(details ? { details } : {}) });
}

function numberOf(v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : fallback;
}

/** Worker environment variable for a `secret://store/name` reference: GREENTIC_SECRET_NAME (upper snake case). */
export function secretEnvName(ref: string): string {
  const name = parseSecretRef(ref)?.name ?? ref;
  return `GREENTIC_SECRET_${name.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}`;
}

/**
 * Create the reference deployer. Each revision runs as its own detached OS process on a free 127.0.0.1 port;
 * everything it knows is kept in files under `ctx.stateDir`, so any later command sees the same processes.
 *
 * The worker is started from `bundle.launch.command` (an argv). Placeholders: `{node}` (this Node binary),
 * `{bundleDir}` (the revision's pack config `bundleDir`, else `<config.bundlesDir>/<bundle.id>`), `{revisionDir}`
 * (the revision's state folder). Pack config keys `env.NAME` of the revision become worker environment variables.
 *
 * @example
 * const deployer = createDeployer({ config: { bundlesDir: '/srv/bundles' } });
 * await deployer.apply(ctx, target);
 * const { endpoint } = await deployer.warm(ctx, target, { timeoutMs: 10_000 });
 */
export function createDeployer(options: PackFactoryOptions = { config: {} }): DeployerPack {
  const config = options.config as LocalProcessConfig;
  const stopGraceMs = numberOf(config.stopGraceMs, 5_000);
  const probeTimeoutMs = numberOf(config.probeTimeoutMs, 1_000);

  function resolveLaunch(ctx: PackContext, target: RevisionTarget): AppliedRevision {
    const { bundle, revision, deployment } = target;
    const argv = bundle.launch?.command;
    if (!argv || argv.length === 0) {
      throw fail(
        'unsupported',
        `${label(target)}: bundle ${bundle.id}@${bundle.version} has no launch.command; local-process runs commands (argv), not images`,
      );
    }
    const packConfig = revision.packConfig[PACK_ID] ?? {};
    const explicit = typeof packConfig.bundleDir === 'string' ? packConfig.bundleDir : undefined;
    const bundleDir = explicit ?? (config.bundlesDir ? join(String(config.bundlesDir), bundle.id) : undefined);
    const dir = revisionDir(ctx.stateDir, deployment.name, revision.id);
    const command = argv.map((arg) => {
      if (arg.includes('{bundleDir}') && bundleDir === undefined) {
        throw fail(
          'refused',
          `${label(target)}: launch.command uses {bundleDir} but no bundle folder is known; set the deployer config bundlesDir (slots.deployer.config.bundlesDir) or the revision's pack config bundleDir`,
        );
      }
      return arg
        .replaceAll('{node}', process.execPath)
        .replaceAll('{bundleDir}', bundleDir ?? '')
        .replaceAll('{revisionDir}', dir);
    });
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(packConfig)) if (k.startsWith('env.')) env[k.slice(4)] = String(v);
    const cwd = bundleDir && isAbsolute(bundleDir) ? bundleDir : resolvePath(bundleDir ?? dir);
    return {
      environment: deployment.environment,
      tenant: deployment.tenant,
      deployment: deployment.name,
      revision: revision.id,
      bundleId: bundle.id,
      bundleDigest: bundle.digest,
      command,
      cwd,
      healthPath: bundle.launch?.healthPath ?? '/healthz',
      env,
      secretRefs: [...new Set([...revision.secretRefs, ...bundle.secrets])].sort(),
    };
  }

  function apply(ctx: PackContext, target: RevisionTarget): AppliedRevision {
    const dir = revisionDir(ctx.stateDir, target.deployment.name, target.revision.id);
    const want = resolveLaunch(ctx, target);
    const have = readJson<AppliedRevision>(join(dir, 'revision.json'));
    if (have) {
      if (have.bundleDigest !== want.bundleDigest || have.tenant !== want.tenant) {
        // Revisions are immutable: the same id with another bundle or tenant is a different revision.
        throw fail(
          'conflict',
          `${label(target)} was applied with bundle ${have.bundleDigest} for tenant ${have.tenant}; it cannot become ${want.bundleDigest} for tenant ${want.tenant}. Stage a new revision instead`,
        );
      }
      if (JSON.stringify(have) === JSON.stringify(want)) return have;
    }
    writeJsonAtomic(join(dir, 'revision.json'), want);
    return want;
  }

  async function workerEnv(ctx: PackContext, applied: AppliedRevision, port: number): Promise<Record<string, string>> {
    const env: Record<string, string> = {};
    for (const k of ENV_PASSTHROUGH) {
      const v = process.env[k];
      if (v !== undefined) env[k] = v;
    }
    Object.assign(env, applied.env, {
      GREENTIC_ENVIRONMENT: applied.environment,
      GREENTIC_TENANT: applied.tenant,
      GREENTIC_DEPLOYMENT: applied.deployment,
      GREENTIC_REVISION: applied.revision,
      GREENTIC_BUNDLE_DIGEST: applied.bundleDigest,
      PORT: String(port),
    });
    if (applied.secretRefs.length > 0) {
      if (!ctx.secrets) {
        throw fail(
          'refused',
          `revision ${applied.revision} of ${applied.deployment} needs ${applied.secretRefs.join(', ')} but environment ${applied.environment} has no secrets pack; attach one (slots.secrets)`,
        );
      }
      for (const ref of applied.secretRefs) env[secretEnvName(ref)] = await ctx.secrets.resolve(ref);
    }
    return env;
  }

  /** Poll the health path until it answers as this revision, the process dies, or the budget runs out. */
  async function awaitHealthy(
    ctx: PackContext,
    target: RevisionTarget,
    applied: AppliedRevision,
    rec: ProcessRecord,
    budget: WaitBudget,
  ): Promise<WarmResult> {
    const dir = revisionDir(ctx.stateDir, applied.deployment, applied.revision);
    const deadline = Date.now() + budget.timeoutMs;
    let last = 'no answer yet';
    for (;;) {
      ctx.signal?.throwIfAborted();
      if (!isOurs(rec)) {
        removeFile(join(dir, 'process.json'));
        const lines = lastLogLines(dir);
        throw fail(
          'unhealthy',
          `${label(target)}: worker exited before passing GET ${applied.healthPath} (${whyNotOurs(rec)}); last log lines:\n${lines.join('\n')}`,
          { lastLogLines: lines },
        );
      }
      const left = deadline - Date.now();
      const p = await probe(rec.port, applied.healthPath, Math.max(50, Math.min(probeTimeoutMs, left)));
      if (p.ok && (p.revision === undefined || p.revision === applied.revision)) {
        if (p.bundleDigest === undefined || p.bundleDigest === applied.bundleDigest) {
          const checkedAt = new Date().toISOString();
          if (!rec.readyAt) writeJsonAtomic(join(dir, 'process.json'), { ...rec, readyAt: checkedAt });
          return {
            endpoint: `http://127.0.0.1:${rec.port}`,
            health: { passed: true, checkedAt, detail: `${p.detail} as revision ${applied.revision}` },
          };
        }
        last = `${p.detail} but reports bundle ${p.bundleDigest}`;
      } else {
        last = p.ok ? `${p.detail} but reports revision ${p.revision}` : p.detail;
      }
      if (Date.now() >= deadline) break;
      await sleep(Math.min(100, Math.max(0, deadline - Date.now())));
    }
    // Health gate failed: stop the worker (warm ends in failed) and say what we waited for.
    await stopProcess(rec, Math.min(stopGraceMs, 2_000));
    removeFile(join(dir, 'process.json'));
    const lines = lastLogLines(dir);
    throw fail(
      'unhealthy',
      `${label(target)}: GET ${applied.healthPath} did not pass within ${budget.timeoutMs} ms (last: ${last}); worker stopped. Last log lines:\n${lines.join('\n')}`,
      { lastLogLines: lines, lastProbe: last },
    );
  }

  async function start(ctx: PackContext, applied: AppliedRevision): Promise<ProcessRecord> {
    const dir = revisionDir(ctx.stateDir, applied.deployment, applied.revision);
    mkdirSync(dir, { recursive: true });
    const port = await freePort();
    const env = await workerEnv(ctx, applied, port);
    let spawned: Awaited<ReturnType<typeof spawnDetached>>;
    try {
      spawned = await spawnDetached(applied.command, { cwd: applied.cwd, env, logFile: logPath(dir) });
    } catch (e) {
      throw fail(
        'failed',
        `revision ${applied.revision} of ${applied.deployment}: cannot start ${applied.command[0]} (${(e as Error).message}); check bundle launch.command`,
      );
    }
    const rec: ProcessRecord = {
      pid: spawned.pid,
      port,
      startTime: spawned.startTime,
      startedAt: new Date().toISOString(),
    };
    writeJsonAtomic(join(dir, 'process.json'), rec);
    ctx.log?.(
      `[${PACK_ID}] revision ${applied.revision} of ${applied.environment}/${applied.deployment}: started pid ${rec.pid} on 127.0.0.1:${port}`,
    );
    return rec;
  }

  function refuseWithWeight(target: RevisionTarget, verb: string): void {
    if (target.weight > 0) {
      throw fail(
        'refused',
        `${label(target)}: cannot ${verb}, it holds ${target.weight} bps of traffic; move its traffic first (gtc op traffic set)`,
      );
    }
  }

  /** Routes are read-modified-written by drains, archives and publishes: one writer at a time. */
  async function withRoutesLock<T>(ctx: PackContext, fn: () => Promise<T>): Promise<T> {
    return await withLock(
      join(ctx.stateDir, 'locks', 'routes'),
      `the runtime config of ${ctx.environment.name}`,
      30_000,
      fn,
    );
  }

  /** Rewrite the published routes so the router gives the revision no new sessions (state draining, weight 0). */
  async function markDrainingInRoutes(ctx: PackContext, deployment: string, revision: string, remove: boolean) {
    await withRoutesLock(ctx, async () => {
      const path = runtimeConfigPath(ctx.stateDir);
      const current = readJson<RuntimeConfig>(path);
      if (!current) return;
      let changed = false;
      const deployments = current.deployments.map((d) => {
        if (d.name !== deployment) return d;
        const revisions = d.revisions.flatMap((r) => {
          if (r.id !== revision) return [r];
          changed = true;
          return remove ? [] : [{ ...r, state: 'draining' as const, weight: 0 }];
        });
        return { ...d, revisions };
      });
      if (changed) writeJsonAtomic(path, { ...current, generation: current.generation + 1, deployments });
    });
  }

  async function liveOf(ctx: PackContext, deployment: string, revision: string): Promise<LiveRevision | undefined> {
    const dir = revisionDir(ctx.stateDir, deployment, revision);
    const applied = readJson<AppliedRevision>(join(dir, 'revision.json'));
    if (!applied) return undefined;
    const base = { deployment, tenant: applied.tenant, revision };
    const rec = readJson<ProcessRecord>(join(dir, 'process.json'));
    if (!rec) return { ...base, phase: 'stopped', detail: 'no process (applied, drained or never warmed)' };
    if (!isOurs(rec)) return { ...base, phase: 'absent', detail: whyNotOurs(rec) };
    const endpoint = `http://127.0.0.1:${rec.port}`;
    const p = await probe(rec.port, applied.healthPath, probeTimeoutMs);
    const reported = p.bundleDigest !== undefined ? { bundleDigest: p.bundleDigest } : {};
    if (!p.ok) {
      const phase = rec.draining ? 'draining' : rec.readyAt ? 'unhealthy' : 'starting';
      return { ...base, phase, endpoint, ...reported, detail: `pid ${rec.pid}: ${p.detail}` };
    }
    const wrongRevision = p.revision !== undefined && p.revision !== revision;
    const wrongBundle = p.bundleDigest !== undefined && p.bundleDigest !== applied.bundleDigest;
    if (wrongRevision || wrongBundle) {
      return {
        ...base,
        phase: 'unhealthy',
        endpoint,
        ...reported,
        detail: `pid ${rec.pid} serves revision ${p.revision ?? '?'} bundle ${p.bundleDigest ?? '?'}, expected ${revision} ${applied.bundleDigest}`,
      };
    }
    return {
      ...base,
      phase: rec.draining ? 'draining' : 'running',
      endpoint,
      bundleDigest: p.bundleDigest ?? applied.bundleDigest,
      detail: `pid ${rec.pid}`,
    };
  }

  async function warmLocked(ctx: PackContext, target: RevisionTarget, budget: WaitBudget): Promise<WarmResult> {
    const applied = apply(ctx, target);
    const dir = revisionDir(ctx.stateDir, applied.deployment, applied.revision);
    const existing = readJson<ProcessRecord>(join(dir, 'process.json'));
    if (existing && isOurs(existing)) {
      if (existing.draining) {
        throw fail('refused', `${label(target)} is draining; wait for the drain to finish, then warm it again`);
      }
      const p = await probe(existing.port, applied.healthPath, probeTimeoutMs);
      const wrong =
        p.ok &&
        ((p.revision !== undefined && p.revision !== applied.revision) ||
          (p.bundleDigest !== undefined && p.bundleDigest !== applied.bundleDigest));
      if (!wrong) return await awaitHealthy(ctx, target, applied, existing, budget); // idempotent: the same process
      // Changed behind our back (serves another revision or bundle): converge by replacing it.
      ctx.log?.(`[${PACK_ID}] ${label(target)}: pid ${existing.pid} serves something else; replacing it`);
      await stopProcess(existing, Math.min(stopGraceMs, 2_000));
    }
    if (existing) removeFile(join(dir, 'process.json')); // died or pid reused: start afresh
    const rec = await start(ctx, applied);
    return await awaitHealthy(ctx, target, applied, rec, budget);
  }

  async function drainLocked(ctx: PackContext, target: RevisionTarget, budget: WaitBudget): Promise<void> {
    const dir = revisionDir(ctx.stateDir, target.deployment.name, target.revision.id);
    await markDrainingInRoutes(ctx, target.deployment.name, target.revision.id, false);
    const rec = readJson<ProcessRecord>(join(dir, 'process.json'));
    if (!rec) return; // nothing runs: already drained
    if (!rec.draining) writeJsonAtomic(join(dir, 'process.json'), { ...rec, draining: true });
    // Order: no new sessions (above), then in-flight work finishes, then SIGTERM with what is left of the budget as
    // grace, then SIGKILL. A worker whose health answer reports `inFlight` is waited on while it still serves
    // normally (part of the budget stays reserved as SIGTERM grace); any other worker is trusted to finish in-flight
    // requests on SIGTERM.
    const deadline = Date.now() + budget.timeoutMs;
    const applied = readJson<AppliedRevision>(join(dir, 'revision.json'));
    if (applied) {
      const grace = Math.min(stopGraceMs, Math.floor(budget.timeoutMs / 2));
      const busy = await awaitInFlight(rec, applied.healthPath, deadline - grace);
      if (busy > 0) {
        ctx.log?.(
          `[${PACK_ID}] ${label(target)}: ${busy} request(s) still in flight after ${budget.timeoutMs - grace} ms; sending SIGTERM`,
        );
      }
    }
    const how = await stopProcess(rec, Math.max(0, deadline - Date.now()));
    if (how === 'killed') {
      ctx.log?.(
        `[${PACK_ID}] ${label(target)}: in-flight work did not finish within ${budget.timeoutMs} ms; worker killed`,
      );
    }
    removeFile(join(dir, 'process.json'));
    // Stopped: its endpoint is dead, so it leaves the routes (pinned sessions re-pin elsewhere).
    await markDrainingInRoutes(ctx, target.deployment.name, target.revision.id, true);
  }

  /**
   * Poll the worker's health answer until it reports no request in flight, or `until` passes. Returns the last
   * count seen (0 when idle, or when the worker does not report one: it is then trusted to finish on SIGTERM).
   */
  async function awaitInFlight(rec: ProcessRecord, healthPath: string, until: number): Promise<number> {
    let busy = 0;
    try {
      await waitFor(
        async () => {
          if (!isOurs(rec)) return true;
          const p = await probe(rec.port, healthPath, Math.max(50, Math.min(probeTimeoutMs, until - Date.now())));
          busy = p.inFlight ?? 0;
          return busy === 0 ? true : undefined;
        },
        { what: `in-flight requests on port ${rec.port} to finish`, timeoutMs: until - Date.now(), intervalMs: 50 },
      );
      return 0;
    } catch (e) {
      if (e instanceof EnvPackError && e.code === 'timeout') return busy;
      throw e;
    }
  }

  async function archiveLocked(ctx: PackContext, target: RevisionTarget): Promise<void> {
    const dir = revisionDir(ctx.stateDir, target.deployment.name, target.revision.id);
    const rec = readJson<ProcessRecord>(join(dir, 'process.json'));
    if (rec) await stopProcess(rec, stopGraceMs);
    await markDrainingInRoutes(ctx, target.deployment.name, target.revision.id, true);
    rmSync(dir, { recursive: true, force: true });
  }

  const pack: DeployerPack = {
    id: PACK_ID,
    slot: 'deployer',
    capabilities: {
      render: false,
      drainsInFlight: true,
      credentialsModes: ['A', 'B'],
      summary: 'each revision as a detached OS process on 127.0.0.1, health-gated, drained with SIGTERM',
    },

    async preflight(ctx) {
      const checks: PreflightCheck[] = [];
      const major = Number(process.versions.node.split('.')[0]);
      checks.push({
        name: 'node',
        ok: major >= 22,
        message: `Node ${process.versions.node}`,
        ...(major >= 22 ? {} : { fix: 'install Node 22 or newer (https://nodejs.org)' }),
      });
      try {
        mkdirSync(ctx.stateDir, { recursive: true });
        writeJsonAtomic(join(ctx.stateDir, '.preflight.json'), { at: new Date().toISOString() });
        removeFile(join(ctx.stateDir, '.preflight.json'));
        checks.push({ name: 'state folder', ok: true, message: `${ctx.stateDir} is writable` });
      } catch (e) {
        checks.push({
          name: 'state folder',
          ok: false,
          message: `${ctx.stateDir} is not writable (${(e as Error).message})`,
          fix: `make ${ctx.stateDir} writable for this user`,
        });
      }
      const proc = existsSync('/proc/self/stat');
      checks.push({
        name: 'process identity',
        ok: true,
        message: proc
          ? '/proc is available: pid reuse is detected by process start time'
          : '/proc is missing: processes are identified by pid only (pid reuse cannot be detected)',
      });
      return { ok: checks.every((c) => c.ok), checks };
    },

    credentials,
    plan,

    async apply(ctx, target) {
      apply(ctx, target);
    },

    async warm(ctx, target, budget) {
      const dir = revisionDir(ctx.stateDir, target.deployment.name, target.revision.id);
      return await withLock(dir, label(target), budget.timeoutMs, () => warmLocked(ctx, target, budget));
    },

    async drain(ctx, target, budget) {
      refuseWithWeight(target, 'drain');
      const dir = revisionDir(ctx.stateDir, target.deployment.name, target.revision.id);
      await withLock(dir, label(target), budget.timeoutMs + 10_000, () => drainLocked(ctx, target, budget));
    },

    async archive(ctx, target) {
      refuseWithWeight(target, 'archive');
      const dir = revisionDir(ctx.stateDir, target.deployment.name, target.revision.id);
      await withLock(dir, label(target), stopGraceMs + 30_000, () => archiveLocked(ctx, target));
      const parent = dirname(dir);
      if (existsSync(parent) && readdirSync(parent).length === 0) rmSync(parent, { recursive: true, force: true });
    },

    async status(ctx, scope) {
      const root = join(ctx.stateDir, 'revisions');
      const pairs: [string, string][] = [];
      if (existsSync(root)) {
        for (const d of readdirSync(root).sort()) {
          if (scope?.deployment !== undefined && d !== scope.deployment) continue;
          for (const r of readdirSync(join(root, d)).sort()) pairs.push([d, r]);
        }
      }
      const revisions = (await Promise.all(pairs.map(([d, r]) => liveOf(ctx, d, r)))).filter(
        (x): x is LiveRevision => x !== undefined,
      );
      const live: LiveStatus = {
        environment: ctx.environment.name,
        observedAt: new Date().toISOString(),
        revisions,
      };
      return live;
    },

    runtimeConfig: buildRuntimeConfig,

    async publishRoutes(ctx, cfg) {
      const checked = validate('runtime-config', cfg);
      if (!checked.ok) {
        throw fail(
          'refused',
          `runtime config for ${cfg.environment} is invalid, nothing published:\n${formatErrors(checked.errors)}`,
        );
      }
      const problems = routingProblems(cfg);
      if (problems.length > 0) {
        throw fail(
          'refused',
          `runtime config for ${cfg.environment} breaks the routing rules, nothing published: ${problems.join('; ')}`,
        );
      }
      await withRoutesLock(ctx, async () => {
        const path = runtimeConfigPath(ctx.stateDir);
        const current = readJson<RuntimeConfig>(path);
        if (current && JSON.stringify(current.deployments) === JSON.stringify(cfg.deployments)) return; // idempotent
        // The generation only grows, even when another writer (a drain) bumped it in between.
        const generation = current ? Math.max(cfg.generation, current.generation + 1) : cfg.generation;
        writeJsonAtomic(path, { ...cfg, generation });
      });
    },
  };
  return pack;
}
