import { randomUUID } from 'node:crypto';
import type {
  AccessToken,
  AuditVerification,
  BackupManifest,
  GreenticStore,
  IntegrityReport,
  MutationOptions,
  MutationResult,
  RestoreReport,
  RetentionReport,
  TrafficHistoryEntry,
  Versioned,
} from './contract';
import { StoreError } from './errors';
import {
  etagOf,
  fillPath,
  HTTP_HEADERS,
  HTTP_ROUTES,
  type HttpRouteName,
  type Page,
  storeErrorFromProblem,
  versionOfEtag,
} from './http-wire';

/** How the HTTP client reaches the store server. */
export interface HttpStoreOptions {
  /** One base URL or several (`http://10.0.0.1:8787`); on a network error or a 5xx the client fails over to the next. */
  readonly baseUrls: string | readonly string[];
  /** Bearer token sent on every request. */
  readonly token?: string;
  /**
   * `token` (default): the server records the token's actor and `MutationOptions.actor` is not sent.
   * `options`: send `MutationOptions.actor` as `X-Greentic-On-Behalf-Of` (the token needs `actor.delegate`, i.e. admin).
   */
  readonly actor?: 'token' | 'options';
  readonly retry?: {
    /** Attempts per logical call, first included (default 8). */
    readonly attempts?: number;
    /** First backoff delay in ms, doubled per attempt with full jitter (default 50). */
    readonly baseDelayMs?: number;
    /** Largest backoff delay in ms (default 2000). */
    readonly maxDelayMs?: number;
    /** Retry a 409 "idempotency key still running" until it replays (default true). */
    readonly inFlight?: boolean;
  };
  /** Per-attempt timeout in ms (default 30000). */
  readonly timeoutMs?: number;
  /** The fetch to use (default the global one). */
  readonly fetch?: typeof fetch;
}

interface SendOptions {
  readonly params?: Readonly<Record<string, string>>;
  readonly query?: Readonly<Record<string, string | number | undefined>>;
  readonly body?: unknown;
  readonly mutation?: Partial<MutationOptions> & { readonly actor?: string };
  /**
   * Whether the server-side verb runs through the idempotency ledger. Verbs that do not (backups, refusals…)
   * are retried only when the request provably never reached a server (connection refused).
   */
  readonly ledger?: boolean;
}

const RETRYABLE_NETWORK =
  /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|UND_ERR|fetch failed|socket|aborted|timeout|other side closed/i;

function causeCode(error: unknown): string {
  const parts: string[] = [];
  let e: unknown = error;
  for (let depth = 0; depth < 4 && e !== undefined && e !== null; depth++) {
    const { name, message, code, cause } = e as { name?: unknown; message?: unknown; code?: unknown; cause?: unknown };
    parts.push(String(code ?? ''), String(name ?? ''), String(message ?? ''));
    e = cause;
  }
  return parts.join(' ');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A GreenticStore over HTTP: every verb is one request to the store server. Each logical call has one
 * idempotency key, reused on every retry; network errors, 5xx and "still running" (409) are retried with
 * backoff, failing over between base URLs; every refusal comes back as the typed StoreError.
 *
 * @example
 * const store = createHttpStore({ baseUrls: ['http://127.0.0.1:8787'], token: process.env.GREENTIC_TOKEN });
 * const env = await store.getEnvironment('zain-prod'); // { value, version }
 */
export function createHttpStore(options: HttpStoreOptions): GreenticStore {
  const bases = (typeof options.baseUrls === 'string' ? [options.baseUrls] : [...options.baseUrls]).map((u) =>
    u.replace(/\/+$/, ''),
  );
  if (bases.length === 0) throw new TypeError('[store-http] baseUrls must name at least one server');
  const doFetch = options.fetch ?? fetch;
  const attempts = Math.max(1, options.retry?.attempts ?? 8);
  const baseDelay = options.retry?.baseDelayMs ?? 50;
  const maxDelay = options.retry?.maxDelayMs ?? 2000;
  const retryInFlight = options.retry?.inFlight ?? true;
  const timeoutMs = options.timeoutMs ?? 30_000;
  let current = 0;
  let closed = false;
  // Calls of this client still waiting for their answer, by actor and idempotency key: a second call with the
  // same key does not race the first across the network (DESIGN.md ③: a key whose first call is still running).
  const running = new Map<string, Promise<unknown>>();

  async function send(name: HttpRouteName, opts: SendOptions = {}): Promise<Response> {
    if (closed) throw new StoreError('unavailable', '[store-http] this client is closed');
    const route = HTTP_ROUTES[name];
    let path = fillPath(route.path, opts.params ?? {});
    const search = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) search.set(k, String(v));
    if ([...search.keys()].length > 0) path += `?${search.toString()}`;

    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    const m = opts.mutation;
    if (m?.requestId !== undefined) headers[HTTP_HEADERS.requestId] = m.requestId;
    if (route.mutating) {
      // One key per logical call, generated once here and reused by every retry below.
      headers[HTTP_HEADERS.idempotencyKey] = m?.idempotencyKey || `client-${randomUUID()}`;
      if (m?.expectedVersion !== undefined) headers[HTTP_HEADERS.ifMatch] = etagOf(m.expectedVersion);
      if (m?.createOnly === true) headers[HTTP_HEADERS.ifNoneMatch] = '*';
    }
    if (options.actor === 'options' && m?.actor !== undefined) headers[HTTP_HEADERS.onBehalfOf] = m.actor;
    const key = headers[HTTP_HEADERS.idempotencyKey];
    const runningKey = key === undefined ? undefined : `${headers[HTTP_HEADERS.onBehalfOf] ?? ''} ${key}`;
    if (runningKey !== undefined) {
      const first = running.get(runningKey);
      if (first !== undefined) {
        if (!retryInFlight) {
          throw new StoreError(
            'idempotency-in-flight',
            `[store-http] ${route.method} ${path}: the first call with this idempotency key is still running; retry when it finished`,
          );
        }
        await first.catch(() => undefined);
      }
      const attemptAll = attemptRequest(route, path, headers, opts);
      const tracked = attemptAll.finally(() => {
        if (running.get(runningKey) === tracked) running.delete(runningKey);
      });
      running.set(runningKey, tracked);
      return tracked;
    }
    return attemptRequest(route, path, headers, opts);
  }

  async function attemptRequest(
    route: (typeof HTTP_ROUTES)[HttpRouteName],
    path: string,
    headers: Record<string, string>,
    opts: SendOptions,
  ): Promise<Response> {
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    if (body !== undefined) headers['content-type'] = 'application/json';
    const ledger = opts.ledger ?? true;

    let lastError: unknown;
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) {
        const cap = Math.min(maxDelay, baseDelay * 2 ** (attempt - 1));
        await sleep(Math.random() * cap + (lastError instanceof RetryAfter ? lastError.ms : 0));
      }
      const base = bases[current % bases.length] as string;
      let res: Response;
      try {
        res = await doFetch(`${base}${path}`, {
          method: route.method,
          headers,
          ...(body === undefined ? {} : { body }),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (error) {
        const text = causeCode(error);
        lastError = new StoreError(
          'unavailable',
          `[store-http] ${route.method} ${base}${path}: ${text.trim().slice(0, 200)}`,
          {},
          { cause: error },
        );
        const neverSent = /ECONNREFUSED/.test(text);
        if (!RETRYABLE_NETWORK.test(text) || (!ledger && !neverSent && route.mutating)) throw lastError;
        current++;
        continue;
      }
      if (res.ok || res.status === 304) return res;
      const problem = await res.json().catch(() => ({}));
      const error = storeErrorFromProblem(res.status, problem);
      if (res.status === 409 && error.code === 'idempotency-in-flight' && retryInFlight) {
        const after = Number(res.headers.get(HTTP_HEADERS.retryAfter) ?? '0');
        lastError = Object.assign(new RetryAfter(Math.min(maxDelay, Number.isFinite(after) ? after * 1000 : 0)), {
          error,
        });
        continue;
      }
      if (res.status >= 500 && error.code !== 'corrupt' && (ledger || !route.mutating)) {
        lastError = error;
        current++;
        continue;
      }
      throw error;
    }
    if (lastError instanceof RetryAfter) throw lastError.error;
    throw lastError;
  }

  const json = async <T>(res: Response): Promise<T> => (await res.json()) as T;
  const versioned = async <T>(res: Response): Promise<Versioned<T>> => ({
    value: await json<T>(res),
    version: versionOfEtag(res.headers.get(HTTP_HEADERS.etag)) ?? '',
  });
  const mutation = async <T>(res: Response, requestId: string | undefined): Promise<MutationResult<T>> => ({
    value: (res.status === 204 ? null : await json<T>(res)) as T,
    version: versionOfEtag(res.headers.get(HTTP_HEADERS.etag)) ?? null,
    replayed: res.headers.get(HTTP_HEADERS.replayed) === 'true',
    requestId: res.headers.get(HTTP_HEADERS.requestId) ?? requestId ?? '',
  });
  async function all<T>(name: HttpRouteName, opts: SendOptions = {}): Promise<Versioned<T>[]> {
    const items: Versioned<T>[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 100_000; pages++) {
      const page = await json<Page<T>>(await send(name, { ...opts, query: { ...opts.query, cursor } }));
      items.push(...page.items);
      if (page.nextCursor === null) return items;
      cursor = page.nextCursor;
    }
    throw new StoreError('unavailable', `[store-http] ${name}: the server kept returning pages`);
  }
  const mutate = async <T>(name: HttpRouteName, o: MutationOptions, rest: Omit<SendOptions, 'mutation'> = {}) =>
    mutation<T>(await send(name, { ...rest, mutation: o }), o.requestId);

  const E = (environment: string) => ({ environment });
  const D = (environment: string, deployment: string) => ({ environment, deployment });

  return {
    listEnvironments: () => all('listEnvironments'),
    getEnvironment: async (name) => versioned(await send('getEnvironment', { params: E(name) })),
    putEnvironment: (environment, o) => mutate('putEnvironment', o, { params: E(environment.name), body: environment }),
    deleteEnvironment: (name, o) => mutate('deleteEnvironment', o, { params: E(name) }),
    attachPack: (environment, slot, pack, o) => mutate('attachPack', o, { params: { environment, slot }, body: pack }),
    detachPack: (environment, slot, o) => mutate('detachPack', o, { params: { environment, slot } }),
    listPacks: async (environment) => versioned(await send('listPacks', { params: E(environment) })),
    publishBundle: (bundle, o) =>
      mutate('publishBundle', o, { params: { bundle: bundle.id, version: bundle.version }, body: bundle }),
    listBundles: (filter) => all('listBundles', { query: { id: filter?.id } }),
    getBundle: async (id, version) => versioned(await send('getBundle', { params: { bundle: id, version } })),
    createDeployment: (deployment, o) =>
      mutate('createDeployment', o, { params: D(deployment.environment, deployment.name), body: deployment }),
    getDeployment: async (environment, name) =>
      versioned(await send('getDeployment', { params: D(environment, name) })),
    listDeployments: (environment) =>
      environment === undefined ? all('listAllDeployments') : all('listDeployments', { params: E(environment) }),
    setBillingCustomer: (environment, name, billingCustomer, o) =>
      mutate('setBillingCustomer', o, { params: D(environment, name), body: { billingCustomer } }),
    stageRevision: (input, o) =>
      mutate('stageRevision', o, {
        params: { ...D(input.environment, input.deployment), revision: input.id },
        body: input,
      }),
    getRevision: async (environment, deployment, id) =>
      versioned(await send('getRevision', { params: { ...D(environment, deployment), revision: id } })),
    listRevisions: (environment, deployment) => all('listRevisions', { params: D(environment, deployment) }),
    transitionRevision: (environment, deployment, id, action, o) => {
      const { health, failureReason, ...rest } = o;
      return mutate('transitionRevision', rest, {
        params: { ...D(environment, deployment), revision: id },
        body: {
          action,
          ...(health === undefined ? {} : { health }),
          ...(failureReason === undefined ? {} : { failureReason }),
        },
      });
    },
    getTraffic: async (environment, deployment) =>
      versioned(await send('getTraffic', { params: D(environment, deployment) })),
    setTraffic: (split, o) => mutate('setTraffic', o, { params: D(split.environment, split.deployment), body: split }),
    rollbackTraffic: (environment, deployment, o) =>
      mutate('rollbackTraffic', o, { params: D(environment, deployment) }),
    trafficHistory: async (environment, deployment, limit) =>
      json<TrafficHistoryEntry[]>(
        await send('trafficHistory', { params: D(environment, deployment), query: { limit } }),
      ),
    getConfig: async (environment) => versioned(await send('getConfig', { params: E(environment) })),
    setConfig: (environment, config, o) => mutate('setConfig', o, { params: E(environment), body: config }),
    putSecretRef: (environment, name, ref, o) =>
      mutate('putSecretRef', o, { params: { environment, name }, body: { ref } }),
    listSecretRefs: (environment) => all('listSecretRefs', { params: E(environment) }),
    deleteSecretRef: (environment, name, o) => mutate('deleteSecretRef', o, { params: { environment, name } }),
    credentialRequirements: async (environment, pack) =>
      versioned(await send('credentialRequirements', { params: { environment, pack } })),
    recordBootstrap: (record, o) =>
      mutate('recordBootstrap', o, { params: { environment: record.environment, pack: record.pack }, body: record }),
    rotateCredentials: (environment, pack, rotation, o) =>
      mutate('rotateCredentials', o, { params: { environment, pack }, body: rotation }),
    queryAudit: async (query = {}) =>
      json(
        await send('queryAudit', {
          query: {
            environment: query.environment,
            actor: query.actor,
            action: query.action,
            outcome: query.outcome,
            afterSeq: query.afterSeq,
            limit: query.limit,
          },
        }),
      ),
    verifyAudit: async () => json<AuditVerification>(await send('verifyAudit')),
    appendRefusal: async (refusal) =>
      json(await send('appendRefusal', { body: refusal, ledger: false, mutation: { requestId: refusal.requestId } })),
    createToken: (input, o) => mutate<AccessToken>('createToken', o, { body: input }),
    listTokens: () => all('listTokens'),
    revokeToken: (id, o) => mutate('revokeToken', o, { params: { token: id } }),
    findTokenByHash: async (hash) => {
      try {
        return await versioned<AccessToken>(await send('findTokenByHash', { params: { hash } }));
      } catch (error) {
        if (error instanceof StoreError && error.code === 'not-found') return undefined;
        throw error;
      }
    },
    backup: async (file) => json<BackupManifest>(await send('backup', { body: { file }, ledger: false })),
    restore: async (file, o) =>
      json<RestoreReport>(
        await send('restore', {
          body: { file, ...(o.force === undefined ? {} : { force: o.force }) },
          ledger: false,
          mutation: { actor: o.actor, ...(o.requestId === undefined ? {} : { requestId: o.requestId }) },
        }),
      ),
    verifyIntegrity: async () => json<IntegrityReport>(await send('verifyIntegrity', { ledger: false })),
    applyRetention: async (policy, o) =>
      json<RetentionReport>(
        await send('applyRetention', {
          body: policy,
          ledger: false,
          mutation: { actor: o.actor, ...(o.requestId === undefined ? {} : { requestId: o.requestId }) },
        }),
      ),
    close: async () => {
      closed = true;
    },
  };
}

/** A 409 "still running" waiting for its Retry-After; carries the error to throw when attempts run out. */
class RetryAfter {
  error: StoreError = new StoreError('idempotency-in-flight', '[store-http] still running');
  constructor(readonly ms: number) {}
}
