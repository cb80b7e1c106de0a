import {
  BASIS_POINTS_TOTAL,
  type RouteDeployment,
  type RouteRevision,
  type RuntimeConfig,
} from '@greentic/deploy-spec';
import type { DesiredState, LiveRevision, LiveStatus, RevisionTarget } from './contract';

// The router's view of an environment, derived from what the store wants (states, weights) and what the live
// system says (endpoints, phases). Shared by every deployer so they cannot disagree on the routing rules:
// only `ready` revisions that are live and serving get weight; `draining` ones stay listed with weight 0 so the
// router can finish their pinned sessions and in-flight requests; nothing else is routable.

const SERVING = new Set(['running', 'draining']);

/** The live entry of one target, if the live status has one. */
export function liveRevisionOf(live: LiveStatus, target: RevisionTarget): LiveRevision | undefined {
  return live.revisions.find((r) => r.deployment === target.deployment.name && r.revision === target.revision.id);
}

/**
 * Build the router's runtime config: per deployment, its ready and draining revisions that are live, with
 * weights in basis points that sum to exactly 10000 whenever any ready revision holds weight. When a revision
 * the store weights is not live, its share is spread over the live ready ones in proportion to their weights
 * (largest remainder), so the router never sends a request to a dead endpoint and the total stays 10000.
 *
 * @example
 * const config = buildRuntimeConfig(desired, await pack.status(ctx), 7);
 * // { environment: 'local', generation: 7, deployments: [{ name: 'support', tenant: 'acme', revisions: [...] }] }
 */
export function buildRuntimeConfig(desired: DesiredState, live: LiveStatus, generation: number): RuntimeConfig {
  const byDeployment = new Map<string, RevisionTarget[]>();
  for (const t of desired.targets) {
    const list = byDeployment.get(t.deployment.name) ?? [];
    list.push(t);
    byDeployment.set(t.deployment.name, list);
  }
  const deployments: RouteDeployment[] = [];
  for (const [name, targets] of [...byDeployment.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const routable: { target: RevisionTarget; endpoint: string; state: 'ready' | 'draining' }[] = [];
    for (const t of targets) {
      const state = t.revision.state;
      if (state !== 'ready' && state !== 'draining') continue;
      const l = live.revisions.find((r) => r.deployment === name && r.revision === t.revision.id);
      if (!l?.endpoint || !SERVING.has(l.phase)) continue;
      if (l.bundleDigest !== undefined && l.bundleDigest !== t.bundle.digest) continue; // serving something else
      routable.push({ target: t, endpoint: l.endpoint, state: l.phase === 'draining' ? 'draining' : state });
    }
    const weighted = routable.filter((r) => r.state === 'ready' && r.target.weight > 0);
    const weights = spread(weighted.map((r) => r.target.weight));
    const revisions: RouteRevision[] = routable
      .map((r) => {
        const i = weighted.indexOf(r);
        return { id: r.target.revision.id, state: r.state, endpoint: r.endpoint, weight: i >= 0 ? weights[i]! : 0 };
      })
      .sort((a, b) => a.id.localeCompare(b.id));
    const first = targets[0]!;
    deployments.push({ name, tenant: first.deployment.tenant, revisions });
  }
  return { environment: desired.environment.name, generation, deployments };
}

/** Scale positive integers so they sum to exactly 10000 (largest-remainder rounding); empty stays empty. */
function spread(weights: readonly number[]): number[] {
  const total = weights.reduce((a, b) => a + b, 0);
  if (weights.length === 0 || total <= 0) return weights.map(() => 0);
  if (total === BASIS_POINTS_TOTAL) return [...weights];
  const exact = weights.map((w) => (w * BASIS_POINTS_TOTAL) / total);
  const out = exact.map(Math.floor);
  let left = BASIS_POINTS_TOTAL - out.reduce((a, b) => a + b, 0);
  const order = exact.map((x, i) => ({ i, frac: x - Math.floor(x) })).sort((a, b) => b.frac - a.frac || a.i - b.i);
  for (const { i } of order) {
    if (left <= 0) break;
    out[i]! += 1;
    left -= 1;
  }
  return out;
}

/** Why a runtime config must not reach a router; empty when it is fine. */
export function routingProblems(config: RuntimeConfig): string[] {
  const problems: string[] = [];
  for (const d of config.deployments) {
    const seen = new Set<string>();
    let sum = 0;
    for (const r of d.revisions) {
      if (seen.has(r.id)) problems.push(`deployment ${d.name}: revision ${r.id} is listed twice`);
      seen.add(r.id);
      if (r.weight > 0 && r.state !== 'ready') {
        problems.push(`deployment ${d.name}: revision ${r.id} is ${r.state} but holds ${r.weight} bps`);
      }
      sum += r.weight;
    }
    if (sum !== 0 && sum !== BASIS_POINTS_TOTAL) {
      problems.push(`deployment ${d.name}: weights sum to ${sum} bps, not ${BASIS_POINTS_TOTAL}`);
    }
  }
  return problems;
}
