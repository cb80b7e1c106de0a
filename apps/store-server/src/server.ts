import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { GreenticStore } from '@greentic/store-contract';
import type { CommitSync } from '@greentic/store-sql';
import { getRequestListener } from '@hono/node-server';
import type { Hono } from 'hono';
import { createStoreApp, routeTableOf, type StoreAppEnv, storeTokenDirectory } from './app';
import { tableListener } from './fast-path';
import { createHealthState, type HealthState, recordIntegrity } from './health';
import { type MtlsOptions, mtlsProvider } from './identity/mtls';
import { type OidcOptions, oidcProvider } from './identity/oidc';
import { chainIdentityProviders, type IdentityProvider } from './identity/provider';
import { hashToken, mintToken, staticTokenProvider } from './identity/static-tokens';
import { jsonLogger, type Logger } from './logger';
import { PROBLEM_CONTENT_TYPE, problemBody } from './problem';
import { openConfiguredStore } from './store-open';

/** Everything `greentic-store-server` can be told; the bin maps flags and environment variables onto it. */
export interface StartStoreServerOptions {
  /** An already open store (in-process callers); otherwise one is opened from `postgres` or `db`. */
  readonly store?: GreenticStore;
  /** SQLite file (default `./greentic.db`). */
  readonly db?: string;
  /** Postgres connection URL; wins over `db`. */
  readonly postgres?: string;
  /** Postgres schema holding the store's tables (default `greentic`). */
  readonly postgresSchema?: string;
  /**
   * How SQLite group commits are made durable (default `inline`): `inline` syncs inside COMMIT; `background` syncs
   * the WAL on the thread pool while the event loop goes on (for disks whose sync is slow next to a request's CPU).
   */
  readonly commitSync?: CommitSync;
  /** Interface to bind (default 127.0.0.1). */
  readonly host?: string;
  /** Port (default 8787; 0 picks a free one). */
  readonly port?: number;
  /** The first admin token for an empty store (default: a new random one). Only its hash is stored. */
  readonly adminToken?: string;
  /** Called once with the admin token minted for an empty store (the bin prints it). */
  readonly onAdminToken?: (token: string) => void;
  /** Serve HTTPS; with `ca`, clients may authenticate with certificates (mutual TLS). */
  readonly tls?: { readonly key: string | Buffer; readonly cert: string | Buffer; readonly ca?: string | Buffer };
  readonly mtls?: MtlsOptions;
  readonly oidc?: OidcOptions;
  /**
   * Replaces the identity providers (static store tokens, OIDC, mTLS) and skips the admin-token bootstrap:
   * for embedding the server where identity is decided elsewhere (tests, a gateway in front).
   */
  readonly identity?: IdentityProvider;
  readonly bodyLimitBytes?: number;
  /**
   * How long a verified token's grants are reused before the store is asked again (default 1000 ms; 0 turns
   * the cache off). A revocation takes effect on every server within this time.
   */
  readonly tokenCacheMs?: number;
  readonly logger?: Logger;
  /** How long shutdown waits for in-flight requests before cutting connections (default 10 s). */
  readonly shutdownTimeoutMs?: number;
}

/** A running server. */
export interface RunningStoreServer {
  /** Base URL, e.g. `http://127.0.0.1:8787`. */
  readonly url: string;
  readonly port: number;
  readonly app: Hono<StoreAppEnv>;
  readonly store: GreenticStore;
  readonly health: HealthState;
  readonly server: Server;
  /** Resolves when the startup integrity check finished (`/readyz` then tells its outcome). */
  readonly integrityChecked: Promise<void>;
  /** Graceful shutdown: stop accepting, finish in-flight requests, close the store. Idempotent. */
  close(): Promise<void>;
}

const ADMIN_ACTOR = 'admin';

/** Creates the first admin token when the store has none; returns the token when this call minted it. */
async function bootstrapAdmin(store: GreenticStore, given: string | undefined): Promise<string | undefined> {
  const tokens = await store.listTokens();
  if (tokens.length > 0) return undefined;
  if (given !== undefined && given.length < 16) {
    throw new Error(
      '[store-server] GREENTIC_ADMIN_TOKEN must be at least 16 characters; generate one with `openssl rand -base64 32`',
    );
  }
  const token = given ?? mintToken();
  // A fixed idempotency key: two servers bootstrapping one empty Postgres create one token, not two.
  await store.createToken(
    { hash: hashToken(token), actor: ADMIN_ACTOR, roles: ['admin'] },
    { actor: 'greentic-store-server', idempotencyKey: `bootstrap-admin-${hashToken(token).slice(7, 23)}` },
  );
  return given === undefined ? token : undefined;
}

/**
 * Opens the store (unless given), creates the first admin token on an empty store, verifies integrity in the
 * background (`/readyz` is false until it passes) and listens.
 *
 * @example
 * const server = await startStoreServer({ db: './greentic.db', port: 0, onAdminToken: (t) => console.log(t) });
 * console.log(server.url);
 * await server.close();
 */
export async function startStoreServer(options: StartStoreServerOptions = {}): Promise<RunningStoreServer> {
  const logger = options.logger ?? jsonLogger();
  const store = options.store ?? (await openConfiguredStore(options));
  const health = createHealthState();
  if (options.identity === undefined) {
    try {
      const minted = await bootstrapAdmin(store, options.adminToken);
      if (minted !== undefined) options.onAdminToken?.(minted);
    } catch (error) {
      if (options.store === undefined) await store.close();
      throw error;
    }
  }

  const directory = storeTokenDirectory(store, { cacheMs: options.tokenCacheMs ?? 1000 });
  const providers: IdentityProvider[] = [staticTokenProvider(directory)];
  if (options.oidc !== undefined) providers.push(oidcProvider(options.oidc));
  if (options.mtls !== undefined) providers.push(mtlsProvider(options.mtls));
  const app = createStoreApp({
    store,
    identity: options.identity ?? chainIdentityProviders(providers),
    logger,
    health,
    onTokensChanged: () => directory.forget?.(),
    ...(options.bodyLimitBytes === undefined ? {} : { bodyLimitBytes: options.bodyLimitBytes }),
  });

  // Requests the app's route table takes are answered without Hono's request, router and context; the rest go
  // through node-server to Hono (fast-path.ts).
  const honoListener = getRequestListener(app.fetch, { overrideGlobalObjects: false });
  const routes = routeTableOf(app);
  const listener = routes === undefined ? honoListener : tableListener(routes, honoListener);
  const server: Server =
    options.tls === undefined
      ? createHttpServer(listener)
      : createHttpsServer(
          {
            key: options.tls.key,
            cert: options.tls.cert,
            ...(options.tls.ca === undefined
              ? {}
              : { ca: options.tls.ca, requestCert: true, rejectUnauthorized: false }),
          },
          listener,
        );
  server.keepAliveTimeout = 5_000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  // Requests Node's parser refuses (header injection, bad framing, huge headers) still get problem+json.
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
    const status = tooLarge ? 431 : 400;
    const body = JSON.stringify(
      problemBody(
        status,
        tooLarge ? 'headers-too-large' : 'malformed-request',
        `[store-server] the request could not be parsed (${error.code ?? 'bad request'})`,
      ),
    );
    socket.end(
      `HTTP/1.1 ${status} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8787, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `${options.tls === undefined ? 'http' : 'https'}://${host}:${address.port}`;
  logger.info('[store-server] listening', { url });

  const integrityChecked = store.verifyIntegrity().then(
    (report) => {
      recordIntegrity(health, report);
      if (!report.ok)
        logger.error('[store-server] integrity check failed; /readyz stays false', { corrupt: report.corrupt.length });
    },
    (error: unknown) => {
      health.integrity = 'failed';
      logger.error('[store-server] integrity check could not run', {
        error: error instanceof Error ? error.message : String(error),
      });
    },
  );

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      health.draining = true;
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      // Keep-alive connections turn idle as their last request finishes: close them as soon as they do.
      server.closeIdleConnections();
      const sweep = setInterval(() => server.closeIdleConnections(), 25);
      const timer = setTimeout(() => server.closeAllConnections(), options.shutdownTimeoutMs ?? 10_000);
      await done;
      clearInterval(sweep);
      clearTimeout(timer);
      await integrityChecked;
      if (options.store === undefined) await store.close();
      logger.info('[store-server] stopped', { url });
    })();
    return closing;
  };
  return { url, port: address.port, app, store, health, server, integrityChecked, close };
}
