import type { CompiledDeployment, NoRouteChoice, RoutingTable } from './routing-table';

/** What scoped routing looks at: the Host header, the request target, and the tenant header. */
export interface ScopeInput {
  /** The Host header as received (`Example.com:8080` is fine: the port is ignored, case folded). */
  readonly host?: string | undefined;
  /** The request target (`/path?query`); only the path part is matched. */
  readonly path: string;
  /** The tenant header, when the request carries one. */
  readonly tenant?: string | undefined;
}

export const NO_MATCH: NoRouteChoice = Object.freeze({ kind: 'no-route', reason: 'no-match' });
export const AMBIGUOUS: NoRouteChoice = Object.freeze({ kind: 'no-route', reason: 'ambiguous' });

/**
 * Map a request (or an incoming chat message) to exactly one deployment.
 *
 * A deployment is a candidate when every criterion it names holds: its host list contains the host, one of its
 * path prefixes matches on a segment boundary, and — when the request names a tenant — that tenant is one the
 * deployment answers to (its `match.tenants`, or else its own tenant). A request naming a tenant therefore never
 * reaches another tenant's deployment. Among candidates the most specific wins (host named, then the longest
 * prefix, then tenant named); a tie between two deployments is `ambiguous`, which callers answer with 404 like
 * `no-match` rather than guess.
 *
 * @example
 * const d = resolveDeployment(table, { host: 'support.acme.test', path: '/chat', tenant: 'acme' });
 * if (d.kind === 'no-route') respond404();
 */
export function resolveDeployment(table: RoutingTable, input: ScopeInput): CompiledDeployment | NoRouteChoice {
  const deployments = table.deployments;
  const host = table.usesHosts && input.host !== undefined ? normalizeHost(input.host) : undefined;
  const path = input.path;
  const tenant = input.tenant;
  let best: CompiledDeployment | undefined;
  let bestScore = -1;
  let tie = false;
  for (let i = 0; i < deployments.length; i++) {
    const d = deployments[i]!;
    let score = 0;
    if (d.hosts.length > 0) {
      if (host === undefined || !d.hosts.includes(host)) continue;
      score += 1 << 20;
    }
    if (d.pathPrefixes.length > 0) {
      const len = matchedPrefixLength(d.pathPrefixes, path);
      if (len < 0) continue;
      score += (len + 1) << 1;
    }
    if (tenant !== undefined) {
      if (!d.tenants.includes(tenant)) continue;
      score += 1;
    } else if (d.tenantScoped) {
      // A deployment that names its tenants only answers requests that say which tenant they are.
      continue;
    }
    if (score > bestScore) {
      best = d;
      bestScore = score;
      tie = false;
    } else if (score === bestScore) {
      tie = true;
    }
  }
  if (best === undefined) return NO_MATCH;
  return tie ? AMBIGUOUS : best;
}

// The last Host header normalized, and its normal form: a dispatcher sees the same few hosts on request after
// request, and comparing a header with the previous one is cheaper than slicing and case-folding it again.
let lastRawHost = '';
let lastHost = '';

/** The host name of a Host header, lowercase, without the port (`Example.com:8080` → `example.com`). */
function normalizeHost(raw: string): string {
  if (raw === lastRawHost) return lastHost;
  let end = raw.length;
  if (raw.charCodeAt(0) === 91 /* [ */) {
    const close = raw.indexOf(']');
    end = close < 0 ? raw.length : close + 1;
  } else {
    const colon = raw.indexOf(':');
    if (colon >= 0) end = colon;
  }
  const host = (end === raw.length ? raw : raw.slice(0, end)).toLowerCase();
  lastRawHost = raw;
  lastHost = host;
  return host;
}

/** Length of the longest prefix matching `path` on a segment boundary, or -1. Prefixes are sorted longest first. */
function matchedPrefixLength(prefixes: readonly string[], path: string): number {
  for (let i = 0; i < prefixes.length; i++) {
    const p = prefixes[i]!;
    if (!path.startsWith(p)) continue;
    if (p.endsWith('/') || path.length === p.length) return p.length;
    const next = path.charCodeAt(p.length);
    // `/api` matches `/api`, `/api/x`, `/api?q` but not `/apix`.
    if (next === 47 /* / */ || next === 63 /* ? */ || next === 35 /* # */) return p.length;
  }
  return -1;
}
