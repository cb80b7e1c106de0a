import { randomUUID } from 'node:crypto';
import { type GreenticStore, HTTP_HEADERS, isStoreError, STORE_ERROR_HTTP_STATUS } from '@greentic/store-contract';
import type { HttpBindings } from '@hono/node-server';
import { Hono } from 'hono';
import { TrieRouter } from 'hono/router/trie-router';
import type { StoreContext, StoreVariables } from './context';
import { RouteTable, type TableRoutes } from './fast-path';
import { createHealthState, type HealthState } from './health';
import { chainIdentityProviders, type IdentityProvider } from './identity/provider';
import { staticTokenProvider, type TokenDirectory, type TokenRecord } from './identity/static-tokens';
import { jsonLogger, type Logger } from './logger';
import { createStoreMetrics, type StoreMetrics } from './metrics';
import { buildOpenApiDocument } from './openapi';
import { HttpProblem, PROBLEM_CONTENT_TYPE, problemBody } from './problem';
import { builtHeaders, reply } from './reply';
import { mountVerbRoutes } from './routes';

/** What the app is built from. Everything but `store` has a default. */
export interface StoreAppDeps {
  /** The store every verb runs against (SQLite, Postgres, or anything implementing the contract). */
  readonly store: GreenticStore;
  /** How callers prove who they are; default: static bearer tokens kept (hashed) in the store. */
  readonly identity?: IdentityProvider;
  readonly logger?: Logger;
  readonly metrics?: StoreMetrics;
  readonly health?: HealthState;
  /** Largest accepted request body in bytes (default 1 MiB); larger is 413. */
  readonly bodyLimitBytes?: number;
  /** Called after a token was created or revoked here (to drop cached grants at once). */
  readonly onTokensChanged?: () => void;
}

/**
 * The resolved dependencies, as handlers see them through `c.get('deps')` (`c.get` is a map lookup; `c.var` builds
 * a new object of every variable on each access).
 */
export interface ResolvedDeps {
  readonly store: GreenticStore;
  readonly identity: IdentityProvider;
  readonly logger: Logger;
  readonly metrics: StoreMetrics;
  readonly health: HealthState;
  readonly bodyLimitBytes: number;
  /** `<actor> <idempotency key>` of the mutating requests this app is running now. */
  readonly runningKeys: Set<string>;
  readonly onTokensChanged: () => void;
}

/** Hono environment of the app: node bindings (absent under `app.request()`), and per-request variables. */
export type StoreAppEnv = {
  Bindings: Partial<HttpBindings>;
  Variables: StoreVariables;
};

/** A route handler before {@link createStoreApp} wraps it with the request id, metrics and the access log. */
export type Handler = (c: StoreContext) => Response | Promise<Response>;

/** The node listener's route table of each app built by {@link createStoreApp}, with the app's dependencies. */
const routeTables = new WeakMap<Hono<StoreAppEnv>, TableRoutes>();

/**
 * The route table of an app built by {@link createStoreApp} (its verb and fixed routes), with its dependencies
 * and its error handler (what `app.onError` answers), for `tableListener`.
 */
export function routeTableOf(app: Hono<StoreAppEnv>): TableRoutes | undefined {
  return routeTables.get(app);
}

const REQUEST_ID = /^[A-Za-z0-9._:=-]{1,128}$/;
const DEFAULT_BODY_LIMIT = 1024 * 1024;

/**
 * A token directory over the store's access verbs: tokens are looked up by the SHA-256 of the secret.
 *
 * @example
 * const directory = storeTokenDirectory(store);
 */
export function storeTokenDirectory(store: GreenticStore, options: { readonly cacheMs?: number } = {}): TokenDirectory {
  const cacheMs = options.cacheMs ?? 0;
  const cache = new Map<string, { record: TokenRecord | undefined; until: number }>();
  const lookup = async (tokenHash: string): Promise<TokenRecord | undefined> => {
    const found = await store.findTokenByHash(tokenHash);
    if (found === undefined) return undefined;
    const token = found.value;
    return {
      actor: token.actor,
      tokenHash,
      grants: token.roles.map((role) => ({ role })),
      rules: token.rules.map((rule) => ({ effect: 'allow' as const, ...rule })),
    };
  };
  if (cacheMs <= 0) return { findByHash: lookup };
  return {
    forget: () => cache.clear(),
    async findByHash(tokenHash) {
      const now = Date.now();
      const hit = cache.get(tokenHash);
      if (hit !== undefined && hit.until > now) return hit.record;
      const record = await lookup(tokenHash);
      // Only known tokens are cached: unknown ones must not fill memory, and are refused on every try anyway.
      if (record !== undefined) {
        if (cache.size >= 10_000) cache.clear();
        cache.set(tokenHash, { record, until: now + cacheMs });
      } else cache.delete(tokenHash);
      return record;
    },
  };
}

/**
 * Reads the audit length (the newest sequence number) for `/metrics`: only the entries appended since the last
 * scrape are read, so a scrape costs O(new entries), not O(audit).
 */
function auditLengthReader(store: GreenticStore): () => Promise<number> {
  let last = 0;
  return async () => {
    for (let page = 0; page < 100; page++) {
      const entries = await store.queryAudit({ afterSeq: last, limit: 10_000 });
      last = entries.at(-1)?.seq ?? last;
      if (entries.length < 10_000) break;
    }
    return last;
  };
}

/** Writes a problem+json response for any error: HttpProblem, StoreError, or an unexpected failure (500). */
function errorResponse(c: StoreContext, error: unknown): Response {
  const requestId = c.get('requestId');
  const deps = c.get('deps');
  const headers: Record<string, string> = { 'content-type': PROBLEM_CONTENT_TYPE };
  let status: number;
  let body: ReturnType<typeof problemBody>;
  if (error instanceof HttpProblem) {
    status = error.status;
    body = problemBody(status, error.code, error.message, { ...error.extra, requestId });
    Object.assign(headers, error.headers);
  } else if (isStoreError(error)) {
    status = STORE_ERROR_HTTP_STATUS[error.code];
    const extra: Record<string, unknown> = { details: error.details, requestId };
    if (error.code === 'version-conflict') {
      // RFC 9110 §13.1.1 says nothing about the body; DESIGN.md ② puts the current tag in it.
      extra.currentVersion = error.details.currentVersion ?? null;
      deps?.metrics.casConflicts.inc();
    }
    if (error.code === 'idempotency-in-flight' || error.code === 'unavailable') headers[HTTP_HEADERS.retryAfter] = '1';
    body = problemBody(status, error.code, error.message, extra);
  } else {
    status = 500;
    deps?.logger.error('[store-server] unexpected failure', {
      requestId,
      error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    });
    body = problemBody(
      500,
      'internal',
      `[store-server] internal error; quote request id ${requestId} to the operator`,
      {
        requestId,
      },
    );
  }
  if (requestId !== undefined) headers[HTTP_HEADERS.requestId] ??= requestId;
  return reply(status, JSON.stringify(body), headers);
}

/**
 * Builds the store's HTTP app: every verb under `/v1`, plus `/healthz`, `/readyz`, `/metrics`, `/openapi.json`.
 * Test it through `app.request()`; serve it with {@link startStoreServer}.
 *
 * @example
 * const app = createStoreApp({ store: await openSqliteStore({ file: ':memory:' }) });
 * const res = await app.request('/healthz'); // 200
 */
export function createStoreApp(deps: StoreAppDeps): Hono<StoreAppEnv> {
  const store = deps.store;
  const resolved: ResolvedDeps = {
    store,
    identity: deps.identity ?? chainIdentityProviders([staticTokenProvider(storeTokenDirectory(store))]),
    logger: deps.logger ?? jsonLogger(),
    metrics: deps.metrics ?? createStoreMetrics(auditLengthReader(store)),
    health: deps.health ?? createHealthState(),
    bodyLimitBytes: deps.bodyLimitBytes ?? DEFAULT_BODY_LIMIT,
    runningKeys: new Set(),
    onTokensChanged: deps.onTokensChanged ?? (() => {}),
  };
  const limit = resolved.bodyLimitBytes;
  const openApi = JSON.stringify(buildOpenApiDocument());

  const app = new Hono<StoreAppEnv>();

  // Request id, the declared body size, metrics and the access log wrap every handler, including errors and 404s.
  // Not a middleware: each route is registered as one handler (this wrapper around it), so Hono dispatches it
  // straight, without composing a middleware chain per request.
  const wrap =
    (handler: Handler) =>
    async (c: StoreContext): Promise<Response> => {
      const started = performance.now();
      const incoming = c.req.header(HTTP_HEADERS.requestId);
      const requestId = incoming !== undefined && REQUEST_ID.test(incoming) ? incoming : randomUUID();
      c.set('requestId', requestId);
      c.set('deps', resolved);
      c.set('principal', undefined);
      c.set('route', undefined);
      // Declared sizes are refused here; chunked bodies are counted as they are read (routes' readJsonObject).
      const declared = c.req.header('content-length');
      let res: Response;
      if (declared !== undefined && !(Number(declared) <= limit)) {
        res = errorResponse(
          c,
          new HttpProblem(
            413,
            'too-large',
            `[store-server] the request body exceeds ${limit} bytes; send a smaller object`,
          ),
        );
      } else {
        try {
          res = await handler(c);
        } catch (error) {
          res = errorResponse(c, error);
        }
      }
      // Responses built by `reply` carry the request id (a replay: the first call's, byte for byte); read their
      // plain header object instead of materialising a `Headers`. Anything else gets the id added here.
      let sent = builtHeaders(res);
      if (sent === undefined) {
        if (!res.headers.has(HTTP_HEADERS.requestId)) res.headers.set(HTTP_HEADERS.requestId, requestId);
        sent = {
          [HTTP_HEADERS.requestId]: res.headers.get(HTTP_HEADERS.requestId) ?? requestId,
          [HTTP_HEADERS.replayed]: res.headers.get(HTTP_HEADERS.replayed) ?? '',
        };
      }
      const route = c.get('route') ?? 'unmatched';
      const status = res.status;
      const seconds = (performance.now() - started) / 1000;
      resolved.metrics.requests.meter(c.req.method, route).record(status, seconds);
      if (status === 401 || status === 403) resolved.metrics.denials.inc({ status: String(status) });
      if (sent[HTTP_HEADERS.replayed] === 'true') resolved.metrics.replays.inc();
      if (status >= 400 || route.startsWith('/v1')) {
        const level = status >= 500 ? 'error' : 'info';
        const answeredAs = sent[HTTP_HEADERS.requestId];
        const principal = c.get('principal');
        // Built field by field (same keys, same order as before), without a spread's temporary objects.
        const fields: Record<string, unknown> = { requestId };
        if (answeredAs !== requestId) fields.replayOf = answeredAs;
        fields.method = c.req.method;
        fields.route = route;
        fields.status = status;
        fields.ms = Math.round(seconds * 10_000) / 10;
        if (principal) fields.actor = principal.actor;
        resolved.logger[level]('[store-server] request', fields);
      }
      return res;
    };

  const plain = (c: StoreContext, route: string, status: number, body: string, contentType: string) => {
    c.set('route', route);
    return reply(status, body, { 'content-type': contentType, [HTTP_HEADERS.requestId]: c.get('requestId') });
  };
  // Every route goes to Hono and to the node listener's route table (see fast-path.ts), as the same handler.
  const table = new RouteTable();
  const register = (method: string, path: string, handler: Handler) => {
    const wrapped = wrap(handler);
    app.on(method, path, wrapped);
    table.add(method, path, wrapped);
  };
  routeTables.set(app, { table, deps: resolved, onError: (c, error) => errorResponse(c, error) });

  const JSON_TYPE = 'application/json';
  register('GET', '/healthz', (c) => plain(c, '/healthz', 200, '{"status":"ok"}', JSON_TYPE));
  register('GET', '/readyz', (c) => {
    const h = resolved.health;
    const ready = h.integrity === 'ok' && !h.draining;
    const body = {
      ready,
      integrity: h.integrity,
      draining: h.draining,
      ...(h.lastReport ? { lastCheck: h.lastReport } : {}),
    };
    return plain(c, '/readyz', ready ? 200 : 503, JSON.stringify(body), JSON_TYPE);
  });
  register('GET', '/metrics', async (c) => {
    const text = await resolved.metrics.registry.metrics();
    return plain(c, '/metrics', 200, text, resolved.metrics.registry.contentType);
  });
  register('GET', '/openapi.json', (c) => plain(c, '/openapi.json', 200, openApi, JSON_TYPE));

  mountVerbRoutes(register);

  // A path that exists with another method is 405 with Allow (what hono's methodNotAllowed middleware did, without
  // a middleware layer on every request): only requests no route matched get here.
  let methodsByPath: TrieRouter<string[]> | undefined;
  const notFound = wrap((c) => {
    if (methodsByPath === undefined) {
      const byPath = new Map<string, Set<string>>();
      for (const route of app.routes) {
        if (route.method === 'ALL' || route.method === 'HEAD') continue;
        const methods = byPath.get(route.path) ?? new Set<string>();
        methods.add(route.method);
        if (route.method === 'GET') methods.add('HEAD');
        byPath.set(route.path, methods);
      }
      methodsByPath = new TrieRouter<string[]>();
      for (const [path, methods] of byPath) methodsByPath.add('ALL', path, [...methods]);
    }
    const allowed = new Set<string>();
    for (const [methods] of methodsByPath.match('ALL', c.req.path)[0]) for (const m of methods) allowed.add(m);
    if (allowed.size > 0 && !allowed.has(c.req.method)) {
      const methods = [...allowed].join(', ');
      return errorResponse(
        c,
        new HttpProblem(
          405,
          'method-not-allowed',
          `[store-server] ${c.req.method} is not allowed on ${c.req.path}; use ${methods}`,
          { headers: { Allow: methods } },
        ),
      );
    }
    return errorResponse(
      c,
      new HttpProblem(
        404,
        'route-not-found',
        `[store-server] no route ${c.req.method} ${c.req.path}; see /openapi.json`,
      ),
    );
  });
  app.notFound(notFound);
  // Every handler is wrapped, so errors are answered in the wrapper; this only guards what escapes Hono itself.
  app.onError((error, c) => errorResponse(c, error));
  return app;
}
