import type { StoreVerb, Versioned, VersionTag } from './contract';
import { isStoreErrorCode, StoreError, type StoreErrorDetails } from './errors';

// The HTTP wire contract of the store: one route per verb, the headers, the page shape, the problem body.
// The server (greentic-store-server), its OpenAPI document and the HTTP client all read this one table,
// so the three cannot drift apart.

/** Header names of the wire contract (RFC 9110 preconditions, IETF draft Idempotency-Key). */
export const HTTP_HEADERS = {
  requestId: 'X-Request-Id',
  idempotencyKey: 'Idempotency-Key',
  replayed: 'Idempotent-Replayed',
  ifMatch: 'If-Match',
  ifNoneMatch: 'If-None-Match',
  etag: 'ETag',
  retryAfter: 'Retry-After',
  /** Sent by a caller allowed `actor.delegate` (admins) to act for another actor; the audit records that actor. */
  onBehalfOf: 'X-Greentic-On-Behalf-Of',
} as const;

/** Verbs that exist only on the client side (no HTTP call). */
export type LocalOnlyVerb = 'close';

/** One HTTP route: method, path template (`{param}` segments) and what a success looks like. */
export interface HttpRoute {
  readonly method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  readonly path: string;
  /** `page`: a paginated list `{ items, nextCursor }`; `object`: one object with its `ETag`; `value`: plain JSON. */
  readonly shape: 'page' | 'object' | 'value';
  /** Whether the route changes state (needs `Idempotency-Key`, may need `If-Match`). */
  readonly mutating: boolean;
  /** One line for the OpenAPI document. */
  readonly summary: string;
}

const ENV = '/v1/environments/{environment}';
const DEP = `${ENV}/deployments/{deployment}`;
const REV = `${DEP}/revisions/{revision}`;

const route = (method: HttpRoute['method'], path: string, shape: HttpRoute['shape'], summary: string): HttpRoute => ({
  method,
  path,
  shape,
  mutating: method !== 'GET',
  summary,
});

/**
 * The route of every store verb, plus `listAllDeployments` (the list across environments).
 * `listDeployments(environment?)` uses `listAllDeployments` when the environment is absent.
 */
export const HTTP_ROUTES = {
  listEnvironments: route('GET', '/v1/environments', 'page', 'List environments'),
  getEnvironment: route('GET', ENV, 'object', 'Read an environment'),
  putEnvironment: route('PUT', ENV, 'object', 'Create (no If-Match) or replace (If-Match) an environment'),
  deleteEnvironment: route('DELETE', ENV, 'value', 'Delete an environment without deployments (If-Match)'),
  listPacks: route('GET', `${ENV}/slots`, 'object', "Read an environment's slots"),
  attachPack: route(
    'PUT',
    `${ENV}/slots/{slot}`,
    'object',
    'Fill a slot with an env-pack (If-Match: the environment tag)',
  ),
  detachPack: route('DELETE', `${ENV}/slots/{slot}`, 'object', 'Empty a slot (If-Match: the environment tag)'),
  getConfig: route('GET', `${ENV}/config`, 'object', "Read an environment's config"),
  setConfig: route('PUT', `${ENV}/config`, 'object', "Replace an environment's config (If-Match: the environment tag)"),
  listSecretRefs: route('GET', `${ENV}/secret-refs`, 'page', 'List secret references'),
  putSecretRef: route('PUT', `${ENV}/secret-refs/{name}`, 'object', 'Register or replace a secret reference'),
  deleteSecretRef: route('DELETE', `${ENV}/secret-refs/{name}`, 'value', 'Remove a secret reference (If-Match)'),
  credentialRequirements: route(
    'GET',
    `${ENV}/credentials/{pack}`,
    'object',
    "Read a deployer pack's credentials record",
  ),
  recordBootstrap: route('PUT', `${ENV}/credentials/{pack}`, 'object', 'Record a credentials bootstrap'),
  rotateCredentials: route(
    'POST',
    `${ENV}/credentials/{pack}/rotations`,
    'object',
    'Record a credentials rotation (If-Match)',
  ),
  listAllDeployments: route('GET', '/v1/deployments', 'page', 'List deployments of every environment'),
  listDeployments: route('GET', `${ENV}/deployments`, 'page', "List an environment's deployments"),
  createDeployment: route('PUT', DEP, 'object', 'Create a deployment'),
  getDeployment: route('GET', DEP, 'object', 'Read a deployment'),
  setBillingCustomer: route(
    'PUT',
    `${DEP}/billing-customer`,
    'object',
    "Change a deployment's billing customer (If-Match)",
  ),
  listRevisions: route('GET', `${DEP}/revisions`, 'page', "List a deployment's revisions"),
  stageRevision: route('PUT', REV, 'object', 'Stage a revision'),
  getRevision: route('GET', REV, 'object', 'Read a revision'),
  transitionRevision: route('POST', `${REV}/transitions`, 'object', 'Apply a lifecycle action { action } (If-Match)'),
  getTraffic: route('GET', `${DEP}/traffic`, 'object', "Read a deployment's traffic split"),
  setTraffic: route('PUT', `${DEP}/traffic`, 'object', 'Set the traffic split (If-Match once one exists)'),
  rollbackTraffic: route('POST', `${DEP}/traffic/rollback`, 'object', 'Return to the previous split (If-Match)'),
  trafficHistory: route('GET', `${DEP}/traffic/history`, 'value', 'The splits a deployment has had, oldest first'),
  listBundles: route('GET', '/v1/bundles', 'page', 'List bundles (?id= for the versions of one)'),
  publishBundle: route('PUT', '/v1/bundles/{bundle}/versions/{version}', 'object', 'Publish a bundle version'),
  getBundle: route('GET', '/v1/bundles/{bundle}/versions/{version}', 'object', 'Read a bundle version'),
  queryAudit: route('GET', '/v1/audit', 'value', 'Audit entries, oldest first (filters, afterSeq, limit)'),
  verifyAudit: route('GET', '/v1/audit/verification', 'value', 'Walk the audit hash chain'),
  appendRefusal: route('POST', '/v1/audit/refusals', 'value', 'Record a refusal decided by a client-side gate'),
  createToken: route('POST', '/v1/admin/tokens', 'object', 'Create an access token (the secret is shown once)'),
  listTokens: route('GET', '/v1/admin/tokens', 'page', 'List access tokens (never their secrets)'),
  revokeToken: route('DELETE', '/v1/admin/tokens/{token}', 'object', 'Revoke an access token (If-Match)'),
  findTokenByHash: route('GET', '/v1/admin/token-hashes/{hash}', 'object', 'Find the active token with a hash'),
  backup: route('POST', '/v1/admin/backups', 'value', 'Write an online backup to a server-side file'),
  restore: route('POST', '/v1/admin/restores', 'value', 'Verify a backup, then replace the live state with it'),
  verifyIntegrity: route(
    'POST',
    '/v1/admin/integrity-checks',
    'value',
    "Check every object's digest and the audit chain",
  ),
  applyRetention: route(
    'POST',
    '/v1/admin/retention',
    'value',
    'Trim the audit and the idempotency ledger by a policy',
  ),
} as const satisfies Record<Exclude<StoreVerb, LocalOnlyVerb> | 'listAllDeployments', HttpRoute>;
export type HttpRouteName = keyof typeof HTTP_ROUTES;

/** A page of a list: each item with its version tag, and the cursor of the next page (`null` on the last). */
export interface Page<T> {
  readonly items: readonly Versioned<T>[];
  readonly nextCursor: string | null;
}

/** Largest page a server returns; the default when `limit` is absent. */
export const MAX_PAGE_SIZE = 500;

/**
 * Fills a route's path template; every parameter is percent-encoded.
 *
 * @example
 * fillPath(HTTP_ROUTES.getEnvironment.path, { environment: 'zain-prod' }); // '/v1/environments/zain-prod'
 */
export function fillPath(template: string, params: Readonly<Record<string, string>>): string {
  return template.replace(/\{([a-z]+)\}/g, (_m, name: string) => {
    const value = params[name];
    if (value === undefined) throw new TypeError(`[store-http] missing path parameter ${name} for ${template}`);
    return encodeURIComponent(value);
  });
}

/**
 * The strong ETag of a version tag (RFC 9110 §8.8.3: a quoted opaque string).
 *
 * @example
 * etagOf('v7-3f2a9c01b4de'); // '"v7-3f2a9c01b4de"'
 */
export function etagOf(version: VersionTag): string {
  return `"${version}"`;
}

/**
 * The version tag inside a strong entity tag, or undefined for a weak or malformed one.
 *
 * @example
 * versionOfEtag('"v7-3f2a9c01b4de"'); // 'v7-3f2a9c01b4de'
 */
export function versionOfEtag(etag: string | null | undefined): VersionTag | undefined {
  if (etag === null || etag === undefined) return undefined;
  const match = /^"([\x21\x23-\x7e]*)"$/.exec(etag.trim());
  return match?.[1];
}

/** The body of an RFC 9457 problem as the store server sends it. */
export interface WireProblem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  readonly details?: StoreErrorDetails;
  /** 412: the object's current tag (null when it no longer exists). */
  readonly currentVersion?: VersionTag | null;
  readonly requestId?: string;
}

/** HTTP-only problem codes and the store code a client reports them as. */
const HTTP_ONLY_CODES: Readonly<Record<string, StoreError['code']>> = {
  unauthorized: 'forbidden',
  'too-large': 'invalid',
  'malformed-json': 'invalid',
  'unsupported-media-type': 'invalid',
  'method-not-allowed': 'invalid',
  'route-not-found': 'not-found',
  internal: 'unavailable',
  'not-ready': 'unavailable',
};

/**
 * Rebuilds the typed StoreError from a problem body (what the HTTP client throws).
 *
 * @example
 * storeErrorFromProblem(412, { code: 'version-conflict', detail: '[store] stale', currentVersion: 'v2-…' }).code;
 */
export function storeErrorFromProblem(status: number, body: unknown): StoreError {
  const problem = (typeof body === 'object' && body !== null ? body : {}) as Partial<WireProblem>;
  const detail = typeof problem.detail === 'string' ? problem.detail : `[store-http] HTTP ${status}`;
  const details: StoreErrorDetails = {
    ...(typeof problem.details === 'object' && problem.details !== null ? problem.details : {}),
    ...(problem.currentVersion !== undefined ? { currentVersion: problem.currentVersion } : {}),
  };
  if (isStoreErrorCode(problem.code)) return new StoreError(problem.code, detail, details);
  const mapped = typeof problem.code === 'string' ? HTTP_ONLY_CODES[problem.code] : undefined;
  if (mapped !== undefined) return new StoreError(mapped, detail, details);
  if (status === 401 || status === 403) return new StoreError('forbidden', detail, details);
  if (status === 404) return new StoreError('not-found', detail, details);
  if (status >= 500) return new StoreError('unavailable', detail, details);
  return new StoreError('invalid', detail, details);
}
