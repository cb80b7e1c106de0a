import { randomUUID } from 'node:crypto';
import { type GreenticStore, HTTP_HEADERS, isStoreError, STORE_ERROR_HTTP_STATUS } from '@greentic/store-contract';
import type { HttpBindings } from '@hono/node-server';
import { type Context, Hono } from 'hono';
import { methodNotAllowed } from 'hono/method-not-allowed';
import { matchedRoutes } from 'hono/route';
import type { Principal } from './authorization';
import { createHealthState, type HealthState } from './health';
import { chainIdentityProviders, type IdentityProvider } from './identity/provider';
import { staticTokenProvider, type TokenDirectory, type TokenRecord } from './identity/static-tokens';
import { jsonLogger, type Logger } from './logger';
import { createStoreMetrics, type StoreMetrics } from './metrics';
import { buildOpenApiDocument } from './openapi';
import { HttpProblem, PROBLEM_CONTENT_TYPE, problemBody } from './problem';
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

/** The resolved dependencies, as handlers see them through `c.var.deps`. */
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
  Variables: { requestId: string; deps: ResolvedDeps; principal: Principal | undefined };
};

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
function errorResponse(c: Context<StoreAppEnv>, error: unknown): Response {
  const requestId = c.var.requestId;
  const deps = c.var.deps;
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
  return new Response(JSON.stringify(body), { status, headers });
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

  // Label children are looked up once per (method, route, status): prom-client hashes label objects otherwise.
  const children = new Map<string, { count: () => void; time: (seconds: number) => void }>();
  const observe = (method: string, route: string, status: number, seconds: number) => {
    const key = `${method} ${route} ${status}`;
    let child = children.get(key);
    if (child === undefined) {
      const counter = resolved.metrics.requests.labels(method, route, String(status));
      const histogram = resolved.metrics.latency.labels(method, route);
      child = { count: () => counter.inc(), time: (s) => histogram.observe(s) };
      if (children.size < 4096) children.set(key, child);
    }
    child.count();
    child.time(seconds);
  };

  // Request id, metrics and the access log wrap everything, including errors and 404s.
  app.use(async (c, next) => {
    const started = performance.now();
    const incoming = c.req.header(HTTP_HEADERS.requestId);
    const requestId = incoming !== undefined && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    c.set('requestId', requestId);
    c.set('deps', resolved);
    c.set('principal', undefined);
    await next();
    // A replay carries the first call's request id (the same answer, byte for byte): keep it.
    if (!c.res.headers.has(HTTP_HEADERS.requestId)) c.res.headers.set(HTTP_HEADERS.requestId, requestId);
    const route =
      matchedRoutes(c)
        .filter((r) => r.method !== 'ALL')
        .at(-1)?.path ?? 'unmatched';
    const status = c.res.status;
    const seconds = (performance.now() - started) / 1000;
    observe(c.req.method, route, status, seconds);
    if (status === 401 || status === 403) resolved.metrics.denials.inc({ status: String(status) });
    if (c.res.headers.get(HTTP_HEADERS.replayed) === 'true') resolved.metrics.replays.inc();
    if (status >= 400 || route.startsWith('/v1')) {
      const level = status >= 500 ? 'error' : 'info';
      resolved.logger[level]('[store-server] request', {
        requestId,
        ...(c.res.headers.get(HTTP_HEADERS.requestId) !== requestId
          ? { replayOf: c.res.headers.get(HTTP_HEADERS.requestId) }
          : {}),
        method: c.req.method,
        route,
        status,
        ms: Math.round(seconds * 10_000) / 10,
        ...(c.var.principal ? { actor: c.var.principal.actor } : {}),
      });
    }
  });
  app.use(
    methodNotAllowed({
      app,
      onMethodNotAllowed: (c, methods) =>
        errorResponse(
          c as Context<StoreAppEnv>,
          new HttpProblem(
            405,
            'method-not-allowed',
            `[store-server] ${c.req.method} is not allowed on ${c.req.path}; use ${methods.join(', ')}`,
            {
              headers: { Allow: methods.join(', ') },
            },
          ),
        ),
    }),
  );
  // Declared sizes are refused here; chunked bodies are counted as they are read (routes' readJsonObject).
  app.use(async (c, next) => {
    const declared = c.req.header('content-length');
    if (declared !== undefined && !(Number(declared) <= limit)) {
      throw new HttpProblem(
        413,
        'too-large',
        `[store-server] the request body exceeds ${limit} bytes; send a smaller object`,
      );
    }
    await next();
  });

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', (c) => {
    const h = resolved.health;
    const ready = h.integrity === 'ok' && !h.draining;
    return c.json(
      { ready, integrity: h.integrity, draining: h.draining, ...(h.lastReport ? { lastCheck: h.lastReport } : {}) },
      ready ? 200 : 503,
    );
  });
  app.get('/metrics', async (c) => {
    const text = await resolved.metrics.registry.metrics();
    return c.body(text, 200, { 'content-type': resolved.metrics.registry.contentType });
  });
  app.get('/openapi.json', (c) => c.body(openApi, 200, { 'content-type': 'application/json' }));

  mountVerbRoutes(app);

  app.notFound((c) =>
    errorResponse(
      c,
      new HttpProblem(
        404,
        'route-not-found',
        `[store-server] no route ${c.req.method} ${c.req.path}; see /openapi.json`,
      ),
    ),
  );
  app.onError((error, c) => errorResponse(c, error));
  return app;
}
