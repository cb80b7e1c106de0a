import type { RouteDeployment, RouteRevision, RuntimeConfig, ValidationError } from '@greentic/deploy-spec';
import { validate } from '@greentic/deploy-spec';

/** How a revision was chosen for a request, in the order the router tries them. */
export type ChoiceSource = 'header' | 'cookie' | 'pin' | 'weighted';

/** The router picked a revision of the deployment the request is scoped to. */
export interface RoutedChoice {
  readonly kind: 'routed';
  readonly deployment: CompiledDeployment;
  readonly revision: CompiledRevision;
  readonly via: ChoiceSource;
}

/** No deployment serves this host / path / tenant: answer 404, never another tenant's worker. */
export interface NoRouteChoice {
  readonly kind: 'no-route';
  /** `no-match`: nothing matched; `ambiguous`: two deployments matched equally well (a config mistake). */
  readonly reason: 'no-match' | 'ambiguous';
}

/** The deployment is known but has no Ready revision with weight for a new session: answer 503. */
export interface NoReadyRevisionChoice {
  readonly kind: 'no-ready-revision';
  readonly deployment: CompiledDeployment;
}

/** The outcome of one routing decision. The objects are precomputed per config generation: no allocation. */
export type Choice = RoutedChoice | NoRouteChoice | NoReadyRevisionChoice;

/** One routable revision, compiled once per config generation. */
export interface CompiledRevision {
  readonly id: string;
  readonly state: RouteRevision['state'];
  readonly endpoint: string;
  readonly weight: number;
  /** `tenant/deployment/revision`, unique across the config (metrics and in-flight counters use it). */
  readonly key: string;
  /** The four precomputed choices that land on this revision, one per source. */
  readonly choices: Readonly<Record<ChoiceSource, RoutedChoice>>;
}

/** One deployment, compiled once per config generation. */
export interface CompiledDeployment {
  readonly kind: 'deployment';
  readonly tenant: string;
  readonly name: string;
  /** `tenant/name`: the scope of pins and cookies. */
  readonly key: string;
  /** The sticky cookie's name for this deployment: `gtr_<tenant>_<name>` (one cookie per deployment on a host). */
  readonly cookieName: string;
  /** Lowercase host names; empty means any host. */
  readonly hosts: readonly string[];
  /** Path prefixes; empty means any path. */
  readonly pathPrefixes: readonly string[];
  /** Tenant header values this deployment answers to (defaults to its own tenant). */
  readonly tenants: readonly string[];
  /** True when the deployment lists tenants explicitly in `match.tenants`. */
  readonly tenantScoped: boolean;
  readonly revisions: readonly CompiledRevision[];
  readonly byId: ReadonlyMap<string, CompiledRevision>;
  /** Ready revisions with weight > 0, in config order, and their cumulative weights. */
  readonly weighted: readonly CompiledRevision[];
  readonly cumulative: Float64Array;
  readonly totalWeight: number;
  readonly noReadyRevision: NoReadyRevisionChoice;
}

/** A runtime config compiled for fast per-request decisions. Immutable: a reload builds a new one and swaps it. */
export interface RoutingTable {
  readonly environment: string;
  readonly generation: number;
  readonly deployments: readonly CompiledDeployment[];
  /** True when some deployment names hosts (the router only parses the Host header then). */
  readonly usesHosts: boolean;
  readonly config: RuntimeConfig;
}

/** Compiling succeeds with a table or fails with errors naming the offending object; it never throws. */
export type CompileResult =
  | { readonly ok: true; readonly table: RoutingTable }
  | { readonly ok: false; readonly errors: readonly ValidationError[] };

/**
 * Validate a runtime config (schema `runtime-config` plus the rules the schema cannot say) and compile it
 * into a routing table: cumulative weights per deployment, revision lookup by id, precomputed choices.
 *
 * @example
 * const r = compileRoutingTable({ environment: 'local', generation: 1, deployments: [
 *   { name: 'support', tenant: 'acme', revisions: [{ id: 'r1', state: 'ready', endpoint: 'http://127.0.0.1:9001', weight: 10000 }] },
 * ] });
 * if (r.ok) console.log(r.table.deployments[0]?.totalWeight); // 10000
 */
export function compileRoutingTable(input: unknown): CompileResult {
  const parsed = validate('runtime-config', input);
  if (!parsed.ok) return { ok: false, errors: parsed.errors };
  const config = parsed.value;
  const errors: ValidationError[] = [];
  const seenKeys = new Set<string>();
  config.deployments.forEach((d, i) => {
    const key = `${d.tenant}/${d.name}`;
    if (seenKeys.has(key)) {
      errors.push({
        path: `/deployments/${i}`,
        message: `deployment ${key} appears twice; list each deployment once`,
      });
    }
    seenKeys.add(key);
    const seenIds = new Set<string>();
    d.revisions.forEach((r, j) => {
      if (seenIds.has(r.id)) {
        errors.push({
          path: `/deployments/${i}/revisions/${j}`,
          message: `revision ${r.id} of ${key} appears twice; list each revision once`,
        });
      }
      seenIds.add(r.id);
      if (r.state === 'draining' && r.weight > 0) {
        errors.push({
          path: `/deployments/${i}/revisions/${j}/weight`,
          message: `revision ${r.id} of ${key} is draining but holds ${r.weight} bps; only ready revisions may hold weight, set it to 0`,
        });
      }
    });
  });
  if (errors.length > 0) return { ok: false, errors };
  const deployments = config.deployments.map(compileDeployment);
  return {
    ok: true,
    table: {
      environment: config.environment,
      generation: config.generation,
      deployments,
      usesHosts: deployments.some((d) => d.hosts.length > 0),
      config,
    },
  };
}

function compileDeployment(d: RouteDeployment): CompiledDeployment {
  const key = `${d.tenant}/${d.name}`;
  const revisions: CompiledRevision[] = [];
  const deployment = {
    kind: 'deployment' as const,
    tenant: d.tenant,
    name: d.name,
    key,
    cookieName: `gtr_${d.tenant}_${d.name}`,
    hosts: (d.match?.hosts ?? []).map((h) => h.toLowerCase()),
    // Longest prefix first so the first hit is the most specific one.
    pathPrefixes: [...(d.match?.pathPrefixes ?? [])].sort((a, b) => b.length - a.length),
    tenants: d.match?.tenants ?? [d.tenant],
    tenantScoped: d.match?.tenants !== undefined,
    revisions,
    byId: new Map<string, CompiledRevision>(),
    weighted: [] as CompiledRevision[],
    cumulative: new Float64Array(0),
    totalWeight: 0,
    noReadyRevision: undefined as unknown as NoReadyRevisionChoice,
  };
  (deployment as { noReadyRevision: NoReadyRevisionChoice }).noReadyRevision = {
    kind: 'no-ready-revision',
    deployment,
  };
  for (const r of d.revisions) {
    const choices = {} as Record<ChoiceSource, RoutedChoice>;
    const compiled: CompiledRevision = {
      id: r.id,
      state: r.state,
      endpoint: r.endpoint,
      weight: r.weight,
      key: `${key}/${r.id}`,
      choices,
    };
    for (const via of ['header', 'cookie', 'pin', 'weighted'] as const) {
      choices[via] = { kind: 'routed', deployment, revision: compiled, via };
    }
    revisions.push(compiled);
    deployment.byId.set(r.id, compiled);
    if (r.state === 'ready' && r.weight > 0) deployment.weighted.push(compiled);
  }
  const cumulative = new Float64Array(deployment.weighted.length);
  let total = 0;
  deployment.weighted.forEach((r, i) => {
    total += r.weight;
    cumulative[i] = total;
  });
  deployment.cumulative = cumulative;
  deployment.totalWeight = total;
  return deployment;
}
