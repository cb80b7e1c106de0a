import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { TLSSocket } from 'node:tls';
import { formatErrors } from '@greentic/deploy-spec';
import {
  type Choice,
  type CompiledDeployment,
  type CompiledRevision,
  type CookieSigner,
  compileRoutingTable,
  createCookieSigner,
  createMemoryPinStore,
  createRouter,
  createTrustPolicy,
  type PinStore,
  type RandomSource,
  type Router,
  type TrustPolicy,
} from '@greentic/router-core';
import { type ConfigSource, createFolderConfigSource } from './config-source';
import { DispatcherError, type DispatcherErrorCode, PROBLEMS, problemBody } from './errors';
import { createMetrics, type RevisionStats } from './metrics';
import {
  downstreamResponseHeaders,
  downstreamTrailers,
  droppedRequestHeaders,
  upstreamRequestHeaders,
} from './proxy-headers';
import { createRedisPinStore } from './redis-pin-store';
import { createStoreConfigSource } from './store-config-source';
import {
  UpstreamClient,
  type UpstreamController,
  UpstreamError,
  type UpstreamHandler,
  type UpstreamHeaders,
} from './upstream-client';

/** How to start a dispatcher. Only a config source is required. */
export interface DispatcherOptions {
  /** Folder holding `runtime-config.json` (a ConfigMap mount or `<stateDir>/runtime-config`). */
  readonly configDir?: string;
  /** The file name in `configDir` (default `runtime-config.json`). */
  readonly configFile?: string;
  /** Any other config source; takes precedence over `storeUrl` and `configDir`. */
  readonly configSource?: ConfigSource;
  /** Follow the runtime config in the store: a URL answering GET with the runtime config and an ETag. */
  readonly storeUrl?: string;
  /** Bearer token for `storeUrl` (from an env var; never logged). */
  readonly storeToken?: string;
  /** `host:port` for proxied traffic (default `127.0.0.1:8080`; port 0 picks a free port). */
  readonly listen?: string;
  /** `host:port` for /healthz, /readyz, /metrics and /admin/revisions (default: the listen host, a free port). */
  readonly adminListen?: string;
  /** CIDR ranges whose requests may steer routing with the trusted header. */
  readonly trustedCidrs?: readonly string[];
  /** A shared secret: requests carrying it in `trustSecretHeader` are trusted from anywhere. Never logged. */
  readonly trustSecret?: string;
  /** The trusted revision header (default `x-greentic-revision`). */
  readonly trustedHeader?: string;
  /** The header carrying the trust secret (default `x-greentic-trust`); never forwarded upstream. */
  readonly trustSecretHeader?: string;
  /** The tenant header for scoped routing (default `x-greentic-tenant`). */
  readonly tenantHeader?: string;
  /** The session id header for session pins (default `x-greentic-session`). */
  readonly sessionHeader?: string;
  /** HMAC keys for the sticky cookie, newest first (from an env var; never logged). Without keys, no cookie. */
  readonly cookieKeys?: readonly string[];
  /** Sticky cookie lifetime in seconds (default 86400). */
  readonly cookieTtlSeconds?: number;
  /** A pin store to use (else Redis when `redisUrl` is set, else in-memory). */
  readonly pinStore?: PinStore;
  /** Share session pins through Redis (`redis://127.0.0.1:6379`). */
  readonly redisUrl?: string;
  /** Key prefix in Redis (default `greentic:pins:`). */
  readonly redisKeyPrefix?: string;
  /** Session pin lifetime after last use in ms (default 30 minutes). */
  readonly pinTtlMs?: number;
  /** Time allowed for an upstream to send headers, and between body chunks, in ms (default 30000) → 504. */
  readonly upstreamTimeoutMs?: number;
  /** Time allowed to connect to an upstream in ms (default 5000) → 504. */
  readonly connectTimeoutMs?: number;
  /**
   * Keep-alive connections per upstream (default 128). When all are busy a request waits for one, at most
   * `upstreamTimeoutMs` (→ 504, the request not sent).
   */
  readonly connectionsPerUpstream?: number;
  /** How long `close()` waits for in-flight requests, in ms (default 10000). */
  readonly shutdownTimeoutMs?: number;
  /** Random source for weighted choice (default `Math.random`). */
  readonly random?: RandomSource;
  /** Where log lines go (default stderr). */
  readonly log?: (line: string) => void;
}

/** One revision as the admin endpoint shows it. */
export interface RevisionSnapshot {
  readonly id: string;
  readonly state: 'ready' | 'draining' | 'gone';
  readonly weight: number;
  readonly endpoint: string;
  readonly inFlight: number;
  readonly pinnedSessions: number;
}

/** What `/admin/revisions` answers: per deployment, per revision, in-flight and pinned-session counts. */
export interface AdminSnapshot {
  readonly environment: string | undefined;
  readonly generation: number | undefined;
  readonly deployments: readonly {
    readonly tenant: string;
    readonly name: string;
    readonly revisions: readonly RevisionSnapshot[];
  }[];
}

/** A running dispatcher. */
export interface Dispatcher {
  /** Base URL of the proxy listener, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  /** Base URL of the admin listener. */
  readonly adminUrl: string;
  /** Generation of the runtime config in force, or undefined before the first one. */
  readonly generation: number | undefined;
  /** Resolve once a config of at least `generation` is in force (rejects after `timeoutMs`, default 10000). */
  waitForGeneration(generation: number, timeoutMs?: number): Promise<void>;
  /** The admin snapshot (what `/admin/revisions` answers). */
  snapshot(): Promise<AdminSnapshot>;
  /** Graceful stop: refuse new connections, let in-flight requests finish (bounded), release everything. */
  close(): Promise<void>;
}

interface Upstream {
  readonly origin: string;
  readonly basePath: string;
}

const READY_JSON = '{"status":"ready"}';

/** Why an exchange ended early because the client left (not the upstream's fault: not counted as an error). */
const CLIENT_GONE = Object.assign(new Error('the client closed the connection before the response ended'), {
  code: 'GREENTIC_CLIENT_GONE',
});

/** Where a response keeps its exchange, so one shared `close` listener serves every request. */
const EXCHANGE = Symbol('greentic.exchange');

/** Largest last body chunk sent as a string with the headers (copying it costs less than a writev up to here). */
const SMALL_BODY = 16 * 1024;

/** What an exchange reports to its dispatcher when it ends (once). */
type ExchangeEnd = (exchange: Exchange, err: Error | null) => void;

/**
 * One proxied request, as the upstream client's dispatch handler: the upstream's status and headers go to
 * `res.writeHead`, its body chunks to `res.write` (pausing the upstream while the client is slow), its end to
 * `res.end`. One object per request; no stream adapter, no per-request closures on the fast path.
 */
class Exchange implements UpstreamHandler {
  controller: UpstreamController | null = null;
  ended = false;
  clientGone = false;
  /** Body bytes still to come when the upstream sent Content-Length (else -1); the last chunk goes with `end`. */
  remaining = -1;
  /** A body chunk went out before the last one (the headers are on the wire already). */
  streaming = false;

  constructor(
    readonly res: ServerResponse,
    readonly stats: RevisionStats,
    readonly start: number,
    readonly setCookie: string | undefined,
    readonly deployment: CompiledDeployment,
    readonly revision: CompiledRevision,
    readonly onEnd: ExchangeEnd,
  ) {}

  onRequestStart(controller: UpstreamController): void {
    this.controller = controller;
    if (this.clientGone) controller.abort(CLIENT_GONE);
  }

  onResponseStart(_controller: UpstreamController, statusCode: number, headers: UpstreamHeaders): void {
    // (1xx answers never get here: the client skips them; Node answered the client's Expect: 100-continue.)
    if (this.clientGone) return;
    const length = headers['content-length'];
    if (typeof length === 'string') this.remaining = Number(length) || -1;
    this.res.writeHead(statusCode, downstreamResponseHeaders(headers, this.setCookie));
  }

  onResponseData(controller: UpstreamController, chunk: Buffer): void {
    if (this.clientGone) return;
    if (this.remaining > 0) {
      this.remaining -= chunk.length;
      // The last chunk of a sized body: headers, body and end leave in one call. A small chunk goes as a latin1
      // string (byte for byte the same): node:http then joins it to the header block and sends one plain write
      // instead of a corked two-buffer writev, ~10% of the CPU of a small proxied response.
      if (this.remaining === 0) {
        if (chunk.length <= SMALL_BODY && !this.streaming) this.res.end(chunk.toString('latin1'), 'latin1');
        else this.res.end(Buffer.from(chunk));
        return;
      }
    }
    this.streaming = true;
    // A copy: the chunk is a view of the upstream client's read buffer, reused by its next read.
    if (!this.res.write(Buffer.from(chunk))) {
      // The client reads slower than the upstream writes: hold the upstream until the client drains.
      controller.pause();
      this.res.once('drain', () => controller.resume());
    }
  }

  onResponseEnd(_controller: UpstreamController, trailers: UpstreamHeaders): void {
    if (!this.clientGone && this.remaining !== 0) {
      // A chunked answer's trailer fields go on to the client (node:http sends them when it chunks the body, i.e.
      // to an HTTP/1.1 client; an HTTP/1.0 client gets the body alone), in one call: each replaces the one before.
      const passed = downstreamTrailers(trailers);
      if (passed !== undefined) this.res.addTrailers(passed);
      this.res.end();
    }
    this.end(null);
  }

  onResponseError(_controller: UpstreamController, err: Error): void {
    this.end(err);
  }

  end(err: Error | null): void {
    if (this.ended) return;
    this.ended = true;
    this.onEnd(this, err);
  }
}

/** `res` closed: when its exchange has not ended, the client left; stop the upstream exchange. */
function onResponseClose(this: ServerResponse & { [EXCHANGE]?: Exchange }): void {
  const exchange = this[EXCHANGE];
  if (exchange === undefined || exchange.ended) return;
  exchange.clientGone = true;
  // The controller is set as soon as the request is dispatched; aborting ends the exchange (queued or not).
  if (exchange.controller !== null) exchange.controller.abort(CLIENT_GONE);
  else exchange.end(CLIENT_GONE);
}

/**
 * Start a dispatcher: the HTTP reverse proxy in front of the revisions, following its runtime config.
 *
 * @example
 * const d = await startDispatcher({ configDir: '/var/lib/greentic/runtime-config', listen: '127.0.0.1:0' });
 * console.log(`proxy on ${d.url}, admin on ${d.adminUrl}`);
 * await d.close();
 */
export async function startDispatcher(options: DispatcherOptions): Promise<Dispatcher> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const source =
    options.configSource ??
    (options.storeUrl !== undefined
      ? createStoreConfigSource({
          url: options.storeUrl,
          ...(options.storeToken ? { headers: { authorization: `Bearer ${options.storeToken}` } } : {}),
        })
      : undefined) ??
    (options.configDir !== undefined
      ? createFolderConfigSource({
          dir: options.configDir,
          ...(options.configFile !== undefined ? { fileName: options.configFile } : {}),
        })
      : undefined);
  if (source === undefined) {
    throw new DispatcherError(
      'invalid-option',
      'no runtime config source; pass configDir (--config-dir), storeUrl (--store-url) or configSource',
    );
  }
  const listen = parseListen(options.listen ?? '127.0.0.1:8080', 'listen');
  const adminListen = parseListen(options.adminListen ?? `${listen.host}:0`, 'adminListen');
  const trustResult = createTrustPolicy({
    cidrs: options.trustedCidrs ?? [],
    sharedSecret: options.trustSecret,
  });
  if (!trustResult.ok) {
    throw new DispatcherError('invalid-option', `trustedCidrs (--trusted-cidrs): ${trustResult.errors.join('; ')}`);
  }
  const trust: TrustPolicy = trustResult.policy;
  let signer: CookieSigner | undefined;
  if (options.cookieKeys !== undefined && options.cookieKeys.length > 0) {
    try {
      signer = createCookieSigner({
        keys: options.cookieKeys,
        ...(options.cookieTtlSeconds !== undefined ? { ttlSeconds: options.cookieTtlSeconds } : {}),
      });
    } catch (cause) {
      throw new DispatcherError(
        'invalid-option',
        'cookieKeys (GREENTIC_COOKIE_KEYS): every key must be 16 or more characters, newest first, comma-separated',
        { cause },
      );
    }
  }
  const trustedHeader = (options.trustedHeader ?? 'x-greentic-revision').toLowerCase();
  const secretHeader = (options.trustSecretHeader ?? 'x-greentic-trust').toLowerCase();
  const tenantHeader = (options.tenantHeader ?? 'x-greentic-tenant').toLowerCase();
  const sessionHeader = (options.sessionHeader ?? 'x-greentic-session').toLowerCase();
  const dropped = droppedRequestHeaders([secretHeader]);
  const ownPinStore = options.pinStore === undefined;
  const pinTtl = options.pinTtlMs !== undefined ? { ttlMs: options.pinTtlMs } : {};
  const pinStore: PinStore =
    options.pinStore ??
    (options.redisUrl !== undefined
      ? createRedisPinStore({
          url: options.redisUrl,
          ...pinTtl,
          ...(options.redisKeyPrefix !== undefined ? { keyPrefix: options.redisKeyPrefix } : {}),
        })
      : createMemoryPinStore(pinTtl));
  const upstreamTimeoutMs = options.upstreamTimeoutMs ?? 30_000;
  const connectionsPerUpstream = options.connectionsPerUpstream ?? 128;
  const upstreamClient = new UpstreamClient({
    connections: connectionsPerUpstream,
    keepAliveTimeout: 30_000,
    headersTimeout: upstreamTimeoutMs,
    bodyTimeout: upstreamTimeoutMs,
    connectTimeout: options.connectTimeoutMs ?? 5_000,
  });
  const metrics = createMetrics();
  const upstreams = new Map<string, Upstream>();
  let router: Router | undefined;
  let closing = false;
  let liveKeys = new Set<string>();
  let pinFailureLogged = 0;
  const waiters = new Set<() => void>();

  const upstreamOf = (endpoint: string): Upstream => {
    let u = upstreams.get(endpoint);
    if (u === undefined) {
      const url = new URL(endpoint);
      u = { origin: url.origin, basePath: url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '') };
      upstreams.set(endpoint, u);
    }
    return u;
  };

  const applyConfig = (document: unknown, origin: string) => {
    const compiled = compileRoutingTable(document);
    const current = router?.table.generation;
    if (!compiled.ok) {
      metrics.configReloads.inc({ outcome: 'refused' });
      log(
        `[dispatcher] runtime config from ${origin} refused, keeping generation ${current ?? '(none)'}:\n${formatErrors(compiled.errors)}`,
      );
      return;
    }
    const table = compiled.table;
    if (current !== undefined && table.generation <= current) {
      if (table.generation < current) {
        metrics.configReloads.inc({ outcome: 'refused' });
        log(
          `[dispatcher] runtime config from ${origin} has generation ${table.generation}, older than ${current}; ignored (generations only grow)`,
        );
      }
      return;
    }
    if (router === undefined) {
      router = createRouter(table, {
        pinStore,
        ...(signer ? { cookieSigner: signer } : {}),
        random: options.random ?? Math.random,
      });
    } else {
      router.setTable(table);
    }
    metrics.configGeneration.set(table.generation);
    metrics.configReloads.inc({ outcome: 'applied' });
    liveKeys = new Set<string>();
    for (const d of table.deployments) for (const r of d.revisions) liveKeys.add(r.key);
    for (const key of metrics.stats.keys()) if (!liveKeys.has(key)) metrics.forget(key);
    for (const w of waiters) w();
  };

  const sendProblem = (res: ServerResponse, code: DispatcherErrorCode, detail: string) => {
    const body = problemBody(code, detail);
    res.writeHead(PROBLEMS[code].status, {
      'content-type': 'application/problem+json',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  };

  const onExchangeEnd: ExchangeEnd = (f, err) => {
    const stats = f.stats;
    stats.inFlight--;
    stats.record((performance.now() - f.start) / 1000);
    if (stats.inFlight === 0 && !liveKeys.has(f.revision.key)) metrics.forget(f.revision.key);
    if (err === null || err === CLIENT_GONE) return;
    if (err instanceof UpstreamError && err.code === 'UPSTREAM_REQUEST_BODY') {
      // The client's request body broke off (it left mid-upload): the client's doing, not the upstream's.
      f.res.destroy();
      return;
    }
    const code = upstreamErrorCode(err);
    metrics.countError(f.deployment.tenant, f.deployment.name, f.revision.id, code);
    if (!f.res.headersSent) {
      const revision = `revision ${f.revision.id} of ${f.deployment.key}`;
      let detail: string;
      if (code !== 'upstream-timeout') detail = `${revision} could not be reached (${errorCodeOf(err)})`;
      else if (err instanceof UpstreamError && err.code === 'UPSTREAM_QUEUE_TIMEOUT') {
        detail = `${revision} had every connection busy for ${upstreamTimeoutMs} ms (connectionsPerUpstream ${connectionsPerUpstream}); the request was not sent`;
      } else detail = `${revision} did not answer within ${upstreamTimeoutMs} ms`;
      sendProblem(f.res, code, detail);
    } else {
      f.res.destroy();
    }
  };

  // The Set-Cookie header per revision, rebuilt only when the signed value changes (once a second at most).
  const cookieHeaders = new WeakMap<CompiledRevision, { signed: string; header: string }>();
  const setCookieFor = (s: CookieSigner, deployment: CompiledDeployment, revision: CompiledRevision): string => {
    const signed = s.sign(deployment.key, revision.id);
    const cached = cookieHeaders.get(revision);
    if (cached !== undefined && cached.signed === signed) return cached.header;
    const header = `${deployment.cookieName}=${signed}; Path=/; Max-Age=${s.ttlSeconds}; HttpOnly; SameSite=Lax`;
    cookieHeaders.set(revision, { signed, header });
    return header;
  };

  const forward = (req: IncomingMessage, res: ServerResponse, choice: Choice) => {
    if (choice.kind === 'no-route') {
      metrics.countError('-', '-', '-', 'no-route');
      sendProblem(
        res,
        'no-route',
        choice.reason === 'ambiguous'
          ? 'two deployments match this host, path and tenant equally; the runtime config must make them distinct'
          : 'no deployment serves this host, path and tenant',
      );
      return;
    }
    if (choice.kind === 'no-ready-revision') {
      const d = choice.deployment;
      metrics.countError(d.tenant, d.name, '-', 'no-ready-revision');
      sendProblem(res, 'no-ready-revision', `deployment ${d.key} has no ready revision with traffic for a new session`);
      return;
    }
    const { deployment, revision, via } = choice;
    const stats = metrics.statsFor(revision.key, deployment.tenant, deployment.name, revision.id);
    stats.inFlight++;
    const upstream = upstreamOf(revision.endpoint);
    const headers = req.headers;
    const hasBody = headers['content-length'] !== undefined || headers['transfer-encoding'] !== undefined;
    const exchange = new Exchange(
      res,
      stats,
      performance.now(),
      signer !== undefined && (via === 'weighted' || via === 'pin')
        ? setCookieFor(signer, deployment, revision)
        : undefined,
      deployment,
      revision,
      onExchangeEnd,
    );
    (res as ServerResponse & { [EXCHANGE]?: Exchange })[EXCHANGE] = exchange;
    res.on('close', onResponseClose);
    const socket = req.socket;
    upstreamClient.dispatch(
      {
        origin: upstream.origin,
        path: upstream.basePath === '' ? (req.url ?? '/') : upstream.basePath + (req.url ?? '/'),
        method: req.method ?? 'GET',
        headers: upstreamRequestHeaders(
          req.rawHeaders,
          headers,
          socket.remoteAddress,
          (socket as TLSSocket).encrypted ? 'https' : 'http',
          dropped,
        ),
        body: hasBody ? req : null,
      },
      exchange,
    );
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const r = router;
    if (r === undefined) {
      sendProblem(res, 'not-ready', 'no runtime config loaded yet');
      return;
    }
    const headers = req.headers;
    const headerRevision = headers[trustedHeader] as string | undefined;
    const trusted =
      headerRevision !== undefined &&
      trust.isTrusted(req.socket.remoteAddress, headers[secretHeader] as string | undefined);
    const input = {
      host: headers.host,
      path: req.url ?? '/',
      tenant: headers[tenantHeader] as string | undefined,
      // An untrusted caller's header is ignored without a word (the mechanism is not revealed).
      trustedRevision: trusted ? headerRevision : undefined,
      cookieHeader: headers.cookie,
      sessionId: headers[sessionHeader] as string | undefined,
    };
    const choice = r.route(input);
    if (!(choice instanceof Promise)) {
      forward(req, res, choice);
      return;
    }
    choice.then(
      (c) => forward(req, res, c),
      (cause: unknown) => {
        // The pin store is down: keep serving (weighted, cookie and header still work) and say so, rarely.
        const now = Date.now();
        if (now - pinFailureLogged > 10_000) {
          pinFailureLogged = now;
          log(`[dispatcher] pin store unavailable, routing without session pins: ${(cause as Error).message}`);
        }
        forward(req, res, r.route({ ...input, sessionId: undefined }) as Choice);
      },
    );
  };

  const server = createServer({ keepAliveTimeout: 65_000 }, onRequest);
  const admin = createServer((req, res) => {
    onAdmin(req, res).catch((cause: unknown) => {
      if (!res.headersSent) sendProblem(res, 'not-ready', `admin: ${(cause as Error).message}`);
      else res.destroy();
    });
  });

  const snapshot = async (): Promise<AdminSnapshot> => {
    const table = router?.table;
    const deployments = [];
    for (const d of table?.deployments ?? []) {
      const pins = await pinStore.countByRevision(d.key);
      const revisions: RevisionSnapshot[] = d.revisions.map((r) => ({
        id: r.id,
        state: r.state,
        weight: r.weight,
        endpoint: r.endpoint,
        inFlight: metrics.stats.get(r.key)?.inFlight ?? 0,
        pinnedSessions: pins.get(r.id) ?? 0,
      }));
      // Revisions that left the config but still have requests in flight.
      for (const [key, s] of metrics.stats) {
        if (key.startsWith(`${d.key}/`) && !d.byId.has(s.labels.revision) && s.inFlight > 0) {
          revisions.push({
            id: s.labels.revision,
            state: 'gone',
            weight: 0,
            endpoint: '',
            inFlight: s.inFlight,
            pinnedSessions: pins.get(s.labels.revision) ?? 0,
          });
        }
      }
      deployments.push({ tenant: d.tenant, name: d.name, revisions });
    }
    return { environment: table?.environment, generation: table?.generation, deployments };
  };

  const onAdmin = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"status":"ok"}');
    } else if (path === '/readyz') {
      if (router !== undefined && !closing) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(READY_JSON);
      } else {
        sendProblem(
          res,
          'not-ready',
          closing ? 'shutting down' : `no runtime config loaded yet from ${source.description}`,
        );
      }
    } else if (path === '/metrics') {
      const body = await metrics.registry.metrics();
      res.writeHead(200, { 'content-type': metrics.registry.contentType });
      res.end(body);
    } else if (path === '/admin/revisions') {
      const body = JSON.stringify(await snapshot());
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    } else {
      res.writeHead(404, { 'content-type': 'application/problem+json' });
      res.end(
        JSON.stringify({
          title: 'Not found',
          status: 404,
          detail: 'admin paths: /healthz /readyz /metrics /admin/revisions',
        }),
      );
    }
  };

  await source.start({
    onConfig: applyConfig,
    onError: (e) => {
      metrics.configReloads.inc({ outcome: 'unreadable' });
      log(`${e.message}; keeping generation ${router?.table.generation ?? '(none)'}`);
    },
  });
  try {
    server.listen(listen.port, listen.host);
    await once(server, 'listening');
    admin.listen(adminListen.port, adminListen.host);
    await once(admin, 'listening');
  } catch (cause) {
    server.close();
    admin.close();
    await source.close();
    await upstreamClient.close();
    throw new DispatcherError('invalid-option', `cannot listen: ${(cause as Error).message}`, { cause });
  }
  const url = urlOf(server);
  const adminUrl = urlOf(admin);
  log(`[dispatcher] proxy on ${url}, admin on ${adminUrl}, config from ${source.description}`);

  const totalInFlight = () => {
    let n = 0;
    for (const s of metrics.stats.values()) n += s.inFlight;
    return n;
  };

  return {
    url,
    adminUrl,
    get generation() {
      return router?.table.generation;
    },
    waitForGeneration(generation, timeoutMs = 10_000) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if ((router?.table.generation ?? -1) >= generation) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new DispatcherError(
              'not-ready',
              `runtime config generation ${generation} not seen within ${timeoutMs} ms (at ${router?.table.generation ?? 'none'})`,
            ),
          );
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    snapshot,
    async close() {
      if (closing) return;
      closing = true;
      server.close();
      server.closeIdleConnections();
      const deadline = Date.now() + (options.shutdownTimeoutMs ?? 10_000);
      while (totalInFlight() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      server.closeAllConnections();
      await source.close();
      await upstreamClient.close();
      admin.close();
      admin.closeAllConnections();
      if (ownPinStore) await pinStore.close?.();
      log('[dispatcher] stopped');
    },
  };
}

/** Too slow (a connect, headers or body timeout) → 504; anything else the upstream did → 502. */
function upstreamErrorCode(err: Error): DispatcherErrorCode {
  return err instanceof UpstreamError && err.isTimeout ? 'upstream-timeout' : 'upstream-unavailable';
}

/** The short cause shown in a 502's detail: the system code (ECONNREFUSED, ECONNRESET) or the client's code. */
function errorCodeOf(err: Error): string {
  if (err instanceof UpstreamError) return err.reason;
  const e = err as Error & { code?: string };
  return e.code ?? err.name;
}

function urlOf(server: Server): string {
  const a = server.address() as AddressInfo;
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return `http://${host}:${a.port}`;
}

function parseListen(value: string, option: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value) ?? /^()()(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65_535) {
    throw new DispatcherError('invalid-option', `${option} "${value}" is not host:port; write it like 127.0.0.1:8080`);
  }
  return { host: m[1] || m[2] || '127.0.0.1', port };
}
