import { setTimeout as sleep } from 'node:timers/promises';
import { formatErrors, type RuntimeConfig, validate } from '@greentic/deploy-spec';
import {
  buildRuntimeConfig,
  type CredentialInput,
  type CredentialsVerification,
  type DeployerPack,
  type DesiredState,
  EnvPackError,
  isEnvPackError,
  type LivePhase,
  type LiveRevision,
  type LiveStatus,
  type PackContext,
  type PackFactoryOptions,
  type PlanAction,
  type PreflightCheck,
  type RenderedFile,
  type RevisionTarget,
  routingProblems,
  waitFor,
} from '@greentic/env-pack';
import { type K8sObject, PACK_ID } from './kinds';
import { KubeClient, type KubeClientOptions } from './kube-client';
import { type KubeconfigSource, type KubeTarget, loadKubeTarget } from './kubeconfig';
import {
  LABELS,
  RUNTIME_CONFIG_FILE,
  RUNTIME_CONFIG_MAP,
  renderManifests,
  renderObjects,
  renderWorkerObjects,
  runtimeConfigMap,
  workerName,
} from './render';
import { buildRulesPack, probeRights, requirementsFor } from './rules-pack';
import { readSettings } from './settings';

/** How this process reaches a worker Service. */
export type EndpointResolver = (service: {
  readonly namespace: string;
  readonly name: string;
  readonly port: number;
}) => string | undefined;

/** Options of {@link createK8sDeployer}. */
export interface K8sDeployerOptions {
  /** The cluster and identity to act as. Default: loaded from the kubeconfig the environment's deployer config names. */
  readonly target?: KubeTarget;
  /**
   * How this process reaches a worker Service. Default: cluster DNS (`http://<service>.<namespace>.svc:<port>`),
   * right when the deployer runs inside the cluster; a port-forward or the fake API server's pod network otherwise.
   */
  readonly endpointOf?: EndpointResolver;
  /** Pause between status polls while waiting (default 100 ms). */
  readonly pollIntervalMs?: number;
  readonly client?: KubeClientOptions;
  /** Kubeconfig to use when the environment's deployer config names none (the pack factory's config). */
  readonly kubeconfig?: KubeconfigSource;
}

/** The k8s deployer: the env-pack contract plus what its tests and the CLI read back. */
export interface K8sDeployerPack extends DeployerPack {
  /** The runtime config the router currently reads (the ConfigMap), or undefined when none was published. */
  readPublishedRoutes(ctx: PackContext): Promise<RuntimeConfig | undefined>;
}

const clusterDns: EndpointResolver = ({ namespace, name, port }) => `http://${name}.${namespace}.svc:${port}`;
const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
const label = (ctx: PackContext, t: RevisionTarget) =>
  `revision ${t.revision.id} of ${ctx.environment.name}/${t.deployment.name}`;

interface DeploymentStatus {
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  observedGeneration?: number;
}

/**
 * Where the live revision stands, read from its worker Deployment only (never from the store).
 *
 * @example
 * phaseOf(await client.get('Deployment', 'apps/v1', ns, name)); // 'running' once every replica is available
 */
export function phaseOf(d: K8sObject): LivePhase {
  const meta = d.metadata as K8sObject['metadata'] & { generation?: number; deletionTimestamp?: string };
  const want = (d.spec as { replicas?: number } | undefined)?.replicas ?? 1;
  const st = (d.status ?? {}) as DeploymentStatus;
  if (meta.deletionTimestamp) return 'stopped';
  if (want === 0) return (st.replicas ?? 0) > 0 ? 'draining' : 'stopped';
  const current = (st.observedGeneration ?? 0) >= (meta.generation ?? 1);
  // The rollout is complete as `kubectl rollout status` judges it: every wanted pod runs the current template, no
  // old pod is left (maxUnavailable 0 keeps the old ones serving meanwhile, which must not pass for the new bundle),
  // and every new pod is available.
  const updated = st.updatedReplicas ?? 0;
  const rolledOut = updated >= want && (st.replicas ?? 0) <= updated && (st.availableReplicas ?? 0) >= updated;
  if (current && rolledOut && (st.readyReplicas ?? 0) >= want) return 'running';
  const conditions = (d.status as { conditions?: { type: string; reason?: string }[] } | undefined)?.conditions ?? [];
  if (conditions.some((c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded')) return 'unhealthy';
  return 'starting';
}

function digestOf(d: K8sObject): string | undefined {
  const containers = (
    d.spec as { template?: { spec?: { containers?: { env?: { name: string; value?: string }[] }[] } } }
  ).template?.spec?.containers;
  return containers?.[0]?.env?.find((e) => e.name === 'GREENTIC_BUNDLE_DIGEST')?.value;
}

/**
 * Pure: the steps that would bring the cluster to what the store wants (dry runs, `--check`).
 *
 * @example
 * planK8s(desired, live) // [{ kind: 'warm', deployment: 'support', revision: 'r2', reason: 'store says ready, live is stopped' }, { kind: 'route', … }]
 */
export function planK8s(desired: DesiredState, live: LiveStatus): PlanAction[] {
  const actions: PlanAction[] = [];
  const known = new Set<string>();
  for (const t of desired.targets) {
    const deployment = t.deployment.name;
    const revision = t.revision.id;
    known.add(`${deployment}/${revision}`);
    const l = live.revisions.find((r) => r.deployment === deployment && r.revision === revision);
    const phase = l?.phase ?? 'absent';
    const serving = phase === 'running' || phase === 'starting' || phase === 'draining';
    const otherDigest = l?.bundleDigest !== undefined && l.bundleDigest !== t.bundle.digest;
    const state = t.revision.state;
    if (state === 'staged') {
      if (!l) actions.push({ kind: 'create', deployment, revision, reason: 'store says staged, no worker Deployment' });
    } else if (state === 'warming' || state === 'ready') {
      if (!l)
        actions.push({ kind: 'create', deployment, revision, reason: `store says ${state}, no worker Deployment` });
      if (phase === 'unhealthy' || otherDigest) {
        actions.push({
          kind: 'restart',
          deployment,
          revision,
          reason: otherDigest ? 'the live worker runs another bundle' : 'the live worker is unhealthy',
        });
      } else if (!serving) {
        actions.push({ kind: 'warm', deployment, revision, reason: `store says ${state}, live is ${phase}` });
      }
    } else if (state === 'draining') {
      if (phase === 'running' || phase === 'starting') {
        actions.push({
          kind: 'drain',
          deployment,
          revision,
          reason: 'store says draining, the worker still has replicas',
        });
      }
    } else if (l) {
      actions.push({ kind: 'remove', deployment, revision, reason: `store says ${state}, live is ${phase}` });
    }
  }
  for (const l of live.revisions) {
    if (!known.has(`${l.deployment}/${l.revision}`)) {
      actions.push({
        kind: 'remove',
        deployment: l.deployment,
        revision: l.revision,
        reason: 'not known to the store',
      });
    }
  }
  if (actions.length > 0) actions.push({ kind: 'route', reason: 'publish the runtime config for the new state' });
  return actions;
}

/**
 * The greentic.deployer.k8s env-pack over a cluster (or the fake API server of `@greentic/deployer-k8s/testing`).
 *
 * @example
 * const pack = createK8sDeployer({ target: await loadKubeTarget({ context: 'kind-greentic' }) });
 * await pack.apply(ctx, target);
 * const { endpoint } = await pack.warm(ctx, target, { timeoutMs: 60_000 });
 */
export function createK8sDeployer(options: K8sDeployerOptions = {}): K8sDeployerPack {
  const endpointOf = options.endpointOf ?? clusterDns;
  const interval = options.pollIntervalMs ?? 100;
  const clients = new Map<string, Promise<KubeClient>>();

  async function targetOf(ctx: PackContext): Promise<KubeTarget> {
    if (options.target) return options.target;
    const cfg = ctx.environment.slots.deployer?.config ?? {};
    const path =
      typeof cfg.kubeconfig === 'string'
        ? cfg.kubeconfig
        : (options.kubeconfig?.path ?? process.env.GREENTIC_K8S_KUBECONFIG);
    const context = typeof cfg.context === 'string' ? cfg.context : options.kubeconfig?.context;
    return loadKubeTarget({ ...(path ? { path } : {}), ...(context ? { context } : {}) });
  }
  function clientOf(ctx: PackContext): Promise<KubeClient> {
    const key = ctx.environment.name;
    let c = clients.get(key);
    if (!c) {
      c = targetOf(ctx).then((t) => new KubeClient(t, options.client));
      c.catch(() => clients.delete(key));
      clients.set(key, c);
    }
    return c;
  }

  /** Namespace, router, PDB, Services, NetworkPolicies; the runtime ConfigMap only when absent (publishRoutes owns it). */
  async function ensureBase(ctx: PackContext, client: KubeClient): Promise<void> {
    const s = readSettings(ctx.environment);
    for (const o of renderObjects({ environment: ctx.environment, targets: [] })) {
      if (o.kind === 'ConfigMap') {
        if (!(await client.get('ConfigMap', 'v1', s.namespace, RUNTIME_CONFIG_MAP))) await client.apply(o);
        continue;
      }
      await client.apply(o);
    }
  }

  async function liveWorker(ctx: PackContext, client: KubeClient, t: RevisionTarget): Promise<K8sObject | undefined> {
    const s = readSettings(ctx.environment);
    return client.get('Deployment', 'apps/v1', s.namespace, workerName(t.deployment.name, t.revision.id));
  }

  function endpointFor(ctx: PackContext, t: RevisionTarget): string | undefined {
    const s = readSettings(ctx.environment);
    return endpointOf({ namespace: s.namespace, name: workerName(t.deployment.name, t.revision.id), port: s.port });
  }

  async function readPublishedRoutes(ctx: PackContext): Promise<RuntimeConfig | undefined> {
    const client = await clientOf(ctx);
    const s = readSettings(ctx.environment);
    const cm = await client.get('ConfigMap', 'v1', s.namespace, RUNTIME_CONFIG_MAP);
    const text = (cm?.data as Record<string, string> | undefined)?.[RUNTIME_CONFIG_FILE];
    return text ? (JSON.parse(text) as RuntimeConfig) : undefined;
  }

  /** Change the published config for one revision (drain marks it draining at weight 0, archive drops it). */
  async function editPublished(ctx: PackContext, t: RevisionTarget, change: 'drain' | 'drop'): Promise<void> {
    const current = await readPublishedRoutes(ctx);
    if (!current) return;
    const routed = current.deployments
      .find((d) => d.name === t.deployment.name)
      ?.revisions.find((r) => r.id === t.revision.id && r.weight > 0);
    if (routed) {
      // The store says 0 bps, but the router still sends traffic here: stopping it now would fail live requests.
      throw new EnvPackError(
        'refused',
        `${label(ctx, t)}: cannot ${change === 'drain' ? 'drain' : 'archive'}, the published router config (generation ${current.generation}) still routes ${routed.weight} bps to it; publish routes first`,
        { pack: PACK_ID },
      );
    }
    let touched = false;
    const deployments = current.deployments.map((d) => {
      if (d.name !== t.deployment.name) return d;
      const revisions = d.revisions.flatMap((r) => {
        if (r.id !== t.revision.id) return [r];
        if (change === 'drop') {
          touched = true;
          return [];
        }
        if (r.state === 'draining') return [r];
        touched = true;
        return [{ ...r, state: 'draining' as const, weight: 0 }];
      });
      return { ...d, revisions };
    });
    if (!touched) return;
    const next = { ...current, deployments, generation: current.generation + 1 };
    const client = await clientOf(ctx);
    await client.apply(runtimeConfigMap(readSettings(ctx.environment), next));
  }

  function refuseWithWeight(ctx: PackContext, t: RevisionTarget, verb: string): void {
    if (t.weight > 0) {
      throw new EnvPackError(
        'refused',
        `${label(ctx, t)}: cannot ${verb}, it holds ${t.weight} bps of traffic; move its traffic first`,
        {
          pack: PACK_ID,
        },
      );
    }
  }

  async function scale(ctx: PackContext, client: KubeClient, t: RevisionTarget, replicas: number): Promise<void> {
    for (const o of renderWorkerObjects(ctx.environment, t, { replicas })) await client.apply(o);
  }

  const pack: K8sDeployerPack = {
    id: PACK_ID,
    slot: 'deployer',
    capabilities: {
      render: true,
      drainsInFlight: true,
      credentialsModes: ['A', 'B'],
      summary: 'Kubernetes: Restricted manifests, minimal RBAC, server-side apply, one Deployment per revision',
    },

    async preflight(ctx) {
      const checks: PreflightCheck[] = [];
      let client: KubeClient;
      try {
        readSettings(ctx.environment);
        client = await clientOf(ctx);
        checks.push({ name: 'kubeconfig', ok: true, message: `API server ${client.server}` });
      } catch (e) {
        checks.push({
          name: 'kubeconfig',
          ok: false,
          message: (e as Error).message,
          fix: 'set slots.deployer.config.kubeconfig (and context), or GREENTIC_K8S_KUBECONFIG, to a kubeconfig for the cluster',
        });
        return { ok: false, checks };
      }
      try {
        const who = await client.whoAmI();
        checks.push({ name: 'reachability', ok: true, message: `reached ${client.server}${who ? ` as ${who}` : ''}` });
        const { missing } = await probeRights(client, ctx.environment);
        checks.push(
          missing.length === 0
            ? { name: 'rights', ok: true, message: 'holds every right the deployer needs' }
            : {
                name: 'rights',
                ok: false,
                message: `missing ${missing.map((p) => `${p.resource} ${p.verbs.join('/')} (${p.scope})`).join('; ')}`,
                fix: 'apply the rules pack from `gtc op credentials bootstrap` (mode B) or grant the listed rights',
              },
        );
      } catch (e) {
        checks.push({
          name: 'reachability',
          ok: false,
          message: (e as Error).message,
          fix: `check that ${client.server} is reachable from here and the credentials are valid`,
        });
      }
      return { ok: checks.every((c) => c.ok), checks };
    },

    credentials: {
      requirements: (ctx) => requirementsFor(ctx.environment),
      async verify(ctx, credential: CredentialInput): Promise<CredentialsVerification> {
        const token = credential.value ?? (credential.ref ? await ctx.secrets?.resolve(credential.ref) : undefined);
        if (!token) {
          throw new EnvPackError(
            'credentials',
            `environment ${ctx.environment.name}: verify needs a bearer token (a value or a secret:// reference)`,
            {
              pack: PACK_ID,
            },
          );
        }
        const base = await targetOf(ctx);
        // Only the token under test speaks: no client certificate of the base kubeconfig.
        const client = new KubeClient(
          { server: base.server, headers: { Authorization: `Bearer ${token}` }, ...(base.ca ? { ca: base.ca } : {}) },
          options.client,
        );
        try {
          const subject = await client.whoAmI();
          const { missing, extra } = await probeRights(client, ctx.environment);
          return { ok: missing.length === 0 && extra.length === 0, missing, extra, ...(subject ? { subject } : {}) };
        } finally {
          await client.close();
        }
      },
      async bootstrap(ctx, master) {
        const pack = buildRulesPack(ctx.environment, {
          generatedAt: now(),
          ...(master.params?.subject ? { subject: master.params.subject } : {}),
        });
        const token = master.value ?? (master.ref ? await ctx.secrets?.resolve(master.ref) : undefined);
        if (token) {
          // RBAC forbids granting what one does not hold: check the master key could apply this pack.
          const base = await targetOf(ctx);
          const client = new KubeClient({
            server: base.server,
            headers: { Authorization: `Bearer ${token}` },
            ...(base.ca ? { ca: base.ca } : {}),
          });
          try {
            const { namespace } = readSettings(ctx.environment);
            const rbacGroup = 'rbac.authorization.k8s.io';
            const lacking: string[] = [];
            for (const [resource, ns] of [
              ['roles', namespace],
              ['rolebindings', namespace],
              ['clusterroles', undefined],
              ['clusterrolebindings', undefined],
            ] as const) {
              if (
                !(await client.canI({ verb: 'create', group: rbacGroup, resource, ...(ns ? { namespace: ns } : {}) }))
              )
                lacking.push(resource);
            }
            const { missing } = await probeRights(client, ctx.environment);
            if (lacking.length > 0 || missing.length > 0) {
              throw new EnvPackError(
                'credentials',
                `environment ${ctx.environment.name}: the master key cannot grant the rules pack (lacks create on ${[...lacking, ...missing.map((p) => p.resource)].join(', ')}); use a cluster-admin key once`,
                { pack: PACK_ID },
              );
            }
          } finally {
            await client.close();
          }
        }
        return pack;
      },
    },

    plan: planK8s,

    async apply(ctx, target) {
      const client = await clientOf(ctx);
      await ensureBase(ctx, client);
      // Materialise without serving: a new worker gets 0 replicas; an existing one keeps what it has.
      const existing = await liveWorker(ctx, client, target);
      const replicas = (existing?.spec as { replicas?: number } | undefined)?.replicas ?? 0;
      await scale(ctx, client, target, replicas);
      ctx.log?.(`[${PACK_ID}] ${label(ctx, target)}: applied (${replicas} replicas)`);
    },

    async warm(ctx, target, budget) {
      const client = await clientOf(ctx);
      const s = readSettings(ctx.environment);
      await ensureBase(ctx, client);
      await scale(ctx, client, target, s.workerReplicas);
      let last = 'no worker Deployment';
      try {
        const endpoint = await waitFor(
          async () => {
            const d = await liveWorker(ctx, client, target);
            if (!d) return undefined;
            const st = (d.status ?? {}) as DeploymentStatus;
            last = `${st.readyReplicas ?? 0}/${s.workerReplicas} replicas ready`;
            if (phaseOf(d) !== 'running') return undefined;
            return endpointFor(ctx, target);
          },
          {
            what: `${label(ctx, target)} to become available`,
            timeoutMs: budget.timeoutMs,
            intervalMs: interval,
            pack: PACK_ID,
            ...(ctx.signal ? { signal: ctx.signal } : {}),
          },
        );
        ctx.log?.(`[${PACK_ID}] ${label(ctx, target)}: ready at ${endpoint}`);
        return { endpoint, health: { passed: true, checkedAt: now(), detail: last } };
      } catch (e) {
        if (!isEnvPackError(e, 'timeout')) throw e;
        // The health gate failed: leave nothing starting behind.
        await scale(ctx, client, target, 0);
        throw new EnvPackError(
          'unhealthy',
          `${label(ctx, target)}: health gate did not pass within ${budget.timeoutMs} ms (${last}); scaled back to 0`,
          { pack: PACK_ID, cause: e },
        );
      }
    },

    async drain(ctx, target, budget) {
      refuseWithWeight(ctx, target, 'drain');
      const client = await clientOf(ctx);
      // New sessions stop first (router config), then the pods terminate gracefully, letting in-flight work end.
      await editPublished(ctx, target, 'drain');
      if (!(await liveWorker(ctx, client, target))) return;
      await scale(ctx, client, target, 0);
      await waitFor(
        async () => {
          const d = await liveWorker(ctx, client, target);
          return !d || phaseOf(d) === 'stopped' ? true : undefined;
        },
        {
          what: `${label(ctx, target)} to finish its in-flight work and stop`,
          timeoutMs: budget.timeoutMs,
          intervalMs: interval,
          pack: PACK_ID,
          ...(ctx.signal ? { signal: ctx.signal } : {}),
        },
      );
      ctx.log?.(`[${PACK_ID}] ${label(ctx, target)}: drained`);
    },

    async archive(ctx, target) {
      refuseWithWeight(ctx, target, 'archive');
      const client = await clientOf(ctx);
      const { namespace } = readSettings(ctx.environment);
      const name = workerName(target.deployment.name, target.revision.id);
      await editPublished(ctx, target, 'drop');
      await client.delete('Deployment', 'apps/v1', namespace, name);
      await client.delete('Service', 'v1', namespace, name);
      ctx.log?.(`[${PACK_ID}] ${label(ctx, target)}: archived`);
    },

    async status(ctx, scope = {}) {
      const client = await clientOf(ctx);
      const { namespace } = readSettings(ctx.environment);
      const selector: Record<string, string> = { [LABELS.component]: 'worker' };
      if (scope.deployment) selector[LABELS.deployment] = scope.deployment;
      const deployments = await client.list('Deployment', 'apps/v1', namespace, selector);
      const revisions: LiveRevision[] = deployments
        .map((d) => {
          const labels = d.metadata.labels ?? {};
          const deployment = labels[LABELS.deployment] ?? '';
          const revision = labels[LABELS.revision] ?? '';
          const phase = phaseOf(d);
          const digest = digestOf(d);
          const endpoint =
            phase === 'running'
              ? endpointOf({ namespace, name: d.metadata.name, port: readSettings(ctx.environment).port })
              : undefined;
          const st = (d.status ?? {}) as DeploymentStatus;
          return {
            deployment,
            tenant: labels[LABELS.tenant] ?? '',
            revision,
            phase,
            ...(endpoint ? { endpoint } : {}),
            ...(digest ? { bundleDigest: digest } : {}),
            detail: `Deployment ${namespace}/${d.metadata.name}: ${st.readyReplicas ?? 0}/${(d.spec as { replicas?: number }).replicas ?? 0} ready`,
          };
        })
        .sort((a, b) => `${a.deployment}/${a.revision}`.localeCompare(`${b.deployment}/${b.revision}`));
      return { environment: ctx.environment.name, observedAt: now(), revisions };
    },

    runtimeConfig: (desired, live, generation) => buildRuntimeConfig(desired, live, generation),

    async publishRoutes(ctx, config) {
      const v = validate('runtime-config', config);
      const problems = v.ok ? routingProblems(config) : [formatErrors(v.errors)];
      if (config.environment !== ctx.environment.name) {
        problems.push(`it is for environment ${config.environment}, not ${ctx.environment.name}`);
      }
      if (problems.length > 0) {
        throw new EnvPackError(
          'refused',
          `environment ${ctx.environment.name}: runtime config refused, nothing published: ${problems.join('; ')}`,
          {
            pack: PACK_ID,
          },
        );
      }
      const client = await clientOf(ctx);
      await ensureBase(ctx, client);
      await client.apply(runtimeConfigMap(readSettings(ctx.environment), config));
    },

    async render(_ctx, desired): Promise<RenderedFile[]> {
      return renderManifests(desired);
    },

    readPublishedRoutes,

    async close() {
      const all = [...clients.values()];
      clients.clear();
      for (const c of all) await (await c.catch(() => undefined))?.close();
      await sleep(0);
    },
  };
  return pack;
}

/**
 * The pack factory named in package.json (`greentic.packs[].export`): reads the kubeconfig from the deployer config
 * (`kubeconfig`, `context`) or GREENTIC_K8S_KUBECONFIG when the pack acts.
 *
 * @example
 * const pack = await registry.resolve<DeployerPack>('greentic.deployer.k8s', { config: { context: 'kind-greentic' } });
 */
export function createDeployer(options: PackFactoryOptions = { config: {} }): K8sDeployerPack {
  const { kubeconfig, context } = options.config;
  return createK8sDeployer({
    kubeconfig: {
      ...(typeof kubeconfig === 'string' ? { path: kubeconfig } : {}),
      ...(typeof context === 'string' ? { context } : {}),
    },
  });
}
