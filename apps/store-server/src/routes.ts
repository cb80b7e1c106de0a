import type { IncomingMessage } from 'node:http';
import { isDnsLabel } from '@greentic/deploy-spec';
import { LIFECYCLE_ACTIONS, type LifecycleAction } from '@greentic/revision-machine';
import {
  etagOf,
  type GreenticStore,
  HTTP_HEADERS,
  HTTP_ROUTES,
  type HttpRouteName,
  type MutationOptions,
  type MutationResult,
  StoreError,
  VERB_ACTIONS,
  type Versioned,
  versionOfEtag,
} from '@greentic/store-contract';
import { storedJson } from '@greentic/store-sql';
import type { Handler } from './app';
import { type Action, authorize, type Principal } from './authorization';
import type { StoreContext } from './context';
import { recordIntegrity } from './health';
import { peerCertificateOf } from './identity/mtls';
import { hashToken, mintToken } from './identity/static-tokens';
import { pageLimit, paginate } from './pagination';
import { HttpProblem } from './problem';
import { reply } from './reply';

// Every verb of the store contract as a resource-shaped route (the table is HTTP_ROUTES of
// @greentic/store-contract). One pipeline per request, in the order the issue fixes:
// authenticate → authorize → (the store:) idempotency ledger → preconditions → execute and commit.
// Refusals before the store runs (400/401/403) are never stored in the ledger; 401 and 403 are audited.

type Params = Readonly<Record<string, string>>;
type Json = Record<string, unknown>;

/** What a handler gets: the verified principal, the store, the request's parts, and the mutation options. */
interface Call {
  readonly c: StoreContext;
  readonly params: Params;
  readonly store: GreenticStore;
  readonly principal: Principal;
  readonly body: Json;
  readonly options: MutationOptions;
  query(name: string): string | undefined;
}

type Outcome =
  | { readonly kind: 'object'; readonly versioned: Versioned<unknown> }
  | {
      readonly kind: 'mutation';
      readonly result: MutationResult<unknown>;
      readonly created: boolean;
      readonly extra?: Json;
    }
  | { readonly kind: 'page'; readonly items: readonly Versioned<unknown>[]; readonly keyOf: (value: never) => string }
  | { readonly kind: 'value'; readonly value: unknown };

interface VerbSpec {
  /** The audit/authorization action; a function when it depends on the body (transitions). */
  readonly action: Action | ((body: Json | undefined) => Action);
  /** Whether the route reads a JSON object body. */
  readonly body?: 'required' | 'optional';
  /**
   * A list across environments whose items are filtered by the caller's read access: authorization only
   * requires that the caller holds some grant or rule (an empty list is then a fair answer).
   */
  readonly filtered?: boolean;
  /** The environment the action touches (default: the `environment` path parameter, else none). */
  readonly environment?: (call: { params: Params; query: (n: string) => string | undefined }) => string | null;
  run(call: Call): Promise<Outcome>;
}

const JSON_TYPE = 'application/json';
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;
const ACTOR_NAME = /^[^\s]{1,256}$/;

const ON_BEHALF_OF_HEADER = HTTP_HEADERS.onBehalfOf;

function fail(status: number, code: string, detail: string, headers?: Record<string, string>): never {
  throw new HttpProblem(status, code, detail, headers === undefined ? {} : { headers });
}

/** Copies path parameters into the body; a body that names another object is refused (400). */
function withPath(body: Json, fromPath: Readonly<Record<string, string>>, what: string): Json {
  const merged: Json = { ...body };
  for (const [key, value] of Object.entries(fromPath)) {
    if (key in body && body[key] !== value) {
      fail(
        400,
        'invalid',
        `[store-server] ${what}: the body's ${key} ${JSON.stringify(body[key])} differs from the path's ${JSON.stringify(value)}; make them equal or drop ${key} from the body`,
      );
    }
    merged[key] = value;
  }
  return merged;
}

const fieldString = (body: Json, key: string, what: string): string => {
  const value = body[key];
  if (typeof value !== 'string') fail(400, 'invalid', `[store-server] ${what}: ${key} must be a string`);
  return value;
};

const auditTarget = (params: Params, path: string): string =>
  (params.environment !== undefined
    ? [params.environment, params.deployment, params.revision ?? params.slot ?? params.name ?? params.pack]
        .filter((x) => x !== undefined)
        .join('/')
    : path
  ).slice(0, 1024);

/** The verbs, keyed by route name. */
const VERBS: Readonly<Record<HttpRouteName, VerbSpec>> = {
  listEnvironments: {
    action: 'environment.read',
    environment: () => null,
    filtered: true,
    run: async ({ store, principal }) => ({
      kind: 'page',
      items: (await store.listEnvironments()).filter((e) => canRead(principal, 'environment.read', e.value.name)),
      keyOf: (v: { name: string }) => v.name,
    }),
  },
  getEnvironment: {
    action: 'environment.read',
    run: async ({ store, params }) => obj(await store.getEnvironment(params.environment ?? '')),
  },
  putEnvironment: {
    action: VERB_ACTIONS.putEnvironment,
    body: 'required',
    run: async ({ store, params, body, options }) =>
      mutation(
        await store.putEnvironment(withPath(body, { name: params.environment ?? '' }, 'environment') as never, options),
        options.expectedVersion === undefined,
      ),
  },
  deleteEnvironment: {
    action: VERB_ACTIONS.deleteEnvironment,
    run: async ({ store, params, options }) =>
      mutation(await store.deleteEnvironment(params.environment ?? '', options), false),
  },
  listPacks: {
    action: 'environment.read',
    run: async ({ store, params }) => obj(await store.listPacks(params.environment ?? '')),
  },
  attachPack: {
    action: VERB_ACTIONS.attachPack,
    body: 'required',
    run: async ({ store, params, body, options }) =>
      mutation(await store.attachPack(params.environment ?? '', params.slot as never, body as never, options), false),
  },
  detachPack: {
    action: VERB_ACTIONS.detachPack,
    run: async ({ store, params, options }) =>
      mutation(await store.detachPack(params.environment ?? '', params.slot as never, options), false),
  },
  getConfig: {
    action: 'config.read',
    run: async ({ store, params }) => obj(await store.getConfig(params.environment ?? '')),
  },
  setConfig: {
    action: VERB_ACTIONS.setConfig,
    body: 'required',
    run: async ({ store, params, body, options }) =>
      mutation(await store.setConfig(params.environment ?? '', body as never, options), false),
  },
  listSecretRefs: {
    action: 'secret-ref.read',
    run: async ({ store, params }) => ({
      kind: 'page',
      items: await store.listSecretRefs(params.environment ?? ''),
      keyOf: (v: { name: string }) => v.name,
    }),
  },
  putSecretRef: {
    action: VERB_ACTIONS.putSecretRef,
    body: 'required',
    run: async ({ store, params, body, options }) =>
      mutation(
        await store.putSecretRef(
          params.environment ?? '',
          params.name ?? '',
          fieldString(body, 'ref', 'secret reference'),
          options,
        ),
        options.expectedVersion === undefined,
      ),
  },
  deleteSecretRef: {
    action: VERB_ACTIONS.deleteSecretRef,
    run: async ({ store, params, options }) =>
      mutation(await store.deleteSecretRef(params.environment ?? '', params.name ?? '', options), false),
  },
  credentialRequirements: {
    action: 'credentials.read',
    run: async ({ store, params }) =>
      obj(await store.credentialRequirements(params.environment ?? '', params.pack ?? '')),
  },
  recordBootstrap: {
    action: VERB_ACTIONS.recordBootstrap,
    body: 'required',
    run: async ({ store, params, body, options }) =>
      mutation(
        await store.recordBootstrap(
          withPath(body, { environment: params.environment ?? '', pack: params.pack ?? '' }, 'credentials') as never,
          options,
        ),
        options.expectedVersion === undefined,
      ),
  },
  rotateCredentials: {
    action: VERB_ACTIONS.rotateCredentials,
    body: 'required',
    run: async ({ store, params, body, options }) =>
      mutation(
        await store.rotateCredentials(params.environment ?? '', params.pack ?? '', body as never, options),
        false,
      ),
  },
  listAllDeployments: {
    action: 'deployment.read',
    environment: () => null,
    filtered: true,
    run: async ({ store, principal }) => ({
      kind: 'page',
      items: (await store.listDeployments()).filter((d) => canRead(principal, 'deployment.read', d.value.environment)),
      keyOf: (v: { environment: string; name: string }) => `${v.environment}/${v.name}`,
    }),
  },
  listDeployments: {
    action: 'deployment.read',
    run: async ({ store, params }) => ({
      kind: 'page',
      items: await store.listDeployments(params.environment ?? ''),
      keyOf: (v: { name: string }) => v.name,
    }),
  },
  createDeployment: {
    action: VERB_ACTIONS.createDeployment,
    body: 'required',
    run: async ({ store, params, body, options }) =>
      mutation(
        await store.createDeployment(
          withPath(
            body,
            { environment: params.environment ?? '', name: params.deployment ?? '' },
            'deployment',
          ) as never,
          options,
        ),
        true,
      ),
  },
  getDeployment: {
    action: 'deployment.read',
    run: async ({ store, params }) => obj(await store.getDeployment(params.environment ?? '', params.deployment ?? '')),
  },
  setBillingCustomer: {
    action: VERB_ACTIONS.setBillingCustomer,
    body: 'required',
    run: async ({ store, params, body, options }) =>
      mutation(
        await store.setBillingCustomer(
          params.environment ?? '',
          params.deployment ?? '',
          fieldString(body, 'billingCustomer', 'billing customer'),
          options,
        ),
        false,
      ),
  },
  listRevisions: {
    action: 'revision.read',
    run: async ({ store, params }) => ({
      kind: 'page',
      items: await store.listRevisions(params.environment ?? '', params.deployment ?? ''),
      keyOf: (v: { id: string }) => v.id,
    }),
  },
  stageRevision: {
    action: VERB_ACTIONS.stageRevision,
    body: 'required',
    run: async ({ store, params, body, options }) =>
      mutation(
        await store.stageRevision(
          withPath(
            body,
            { environment: params.environment ?? '', deployment: params.deployment ?? '', id: params.revision ?? '' },
            'revision',
          ) as never,
          options,
        ),
        true,
      ),
  },
  getRevision: {
    action: 'revision.read',
    run: async ({ store, params }) =>
      obj(await store.getRevision(params.environment ?? '', params.deployment ?? '', params.revision ?? '')),
  },
  transitionRevision: {
    action: (body) =>
      typeof body?.action === 'string' && (LIFECYCLE_ACTIONS as readonly string[]).includes(body.action)
        ? `revision.${body.action}`
        : 'revision.transition',
    body: 'required',
    run: async ({ store, params, body, options }) => {
      const action = body.action;
      if (typeof action !== 'string' || !(LIFECYCLE_ACTIONS as readonly string[]).includes(action)) {
        fail(
          400,
          'invalid',
          `[store-server] transition: action must be one of ${LIFECYCLE_ACTIONS.join(', ')}, got ${JSON.stringify(action)?.slice(0, 64)}`,
        );
      }
      const { health, failureReason } = body;
      return mutation(
        await store.transitionRevision(
          params.environment ?? '',
          params.deployment ?? '',
          params.revision ?? '',
          action as LifecycleAction,
          {
            ...options,
            ...(health === undefined ? {} : { health: health as never }),
            ...(failureReason === undefined ? {} : { failureReason: failureReason as never }),
          },
        ),
        false,
      );
    },
  },
  getTraffic: {
    action: 'traffic.read',
    run: async ({ store, params }) => obj(await store.getTraffic(params.environment ?? '', params.deployment ?? '')),
  },
  setTraffic: {
    action: VERB_ACTIONS.setTraffic,
    body: 'required',
    run: async ({ store, params, body, options }) =>
      mutation(
        await store.setTraffic(
          withPath(
            body,
            { environment: params.environment ?? '', deployment: params.deployment ?? '' },
            'traffic',
          ) as never,
          options,
        ),
        options.expectedVersion === undefined,
      ),
  },
  rollbackTraffic: {
    action: VERB_ACTIONS.rollbackTraffic,
    body: 'optional',
    run: async ({ store, params, options }) =>
      mutation(await store.rollbackTraffic(params.environment ?? '', params.deployment ?? '', options), false),
  },
  trafficHistory: {
    action: 'traffic.read',
    run: async ({ store, params, query }) => {
      const limit = query('limit');
      return {
        kind: 'value',
        value: await store.trafficHistory(
          params.environment ?? '',
          params.deployment ?? '',
          limit === undefined ? undefined : integerParam(limit, 'limit'),
        ),
      };
    },
  },
  listBundles: {
    action: 'bundle.read',
    environment: () => null,
    run: async ({ store, query }) => {
      const id = query('id');
      return {
        kind: 'page',
        items: await store.listBundles(id === undefined ? undefined : { id }),
        keyOf: (v: { id: string; version: string }) => `${v.id}@${v.version}`,
      };
    },
  },
  publishBundle: {
    action: VERB_ACTIONS.publishBundle,
    environment: () => null,
    body: 'required',
    run: async ({ store, params, body, options }) =>
      mutation(
        await store.publishBundle(
          withPath(body, { id: params.bundle ?? '', version: params.version ?? '' }, 'bundle') as never,
          options,
        ),
        true,
      ),
  },
  getBundle: {
    action: 'bundle.read',
    environment: () => null,
    run: async ({ store, params }) => obj(await store.getBundle(params.bundle ?? '', params.version ?? '')),
  },
  queryAudit: {
    action: 'audit.read',
    environment: ({ query }) => query('environment') ?? null,
    run: async ({ store, query }) => {
      const q: Record<string, unknown> = {};
      for (const key of ['environment', 'actor', 'action', 'outcome'] as const) {
        const v = query(key);
        if (v !== undefined) q[key] = v;
      }
      for (const key of ['afterSeq', 'limit'] as const) {
        const v = query(key);
        if (v !== undefined) q[key] = integerParam(v, key);
      }
      return { kind: 'value', value: await store.queryAudit(q) };
    },
  },
  verifyAudit: {
    action: 'audit.read',
    environment: () => null,
    run: async ({ store }) => ({ kind: 'value', value: await store.verifyAudit() }),
  },
  appendRefusal: {
    action: 'audit.append-refusal',
    environment: () => null,
    body: 'required',
    run: async ({ store, body }) => ({ kind: 'value', value: await store.appendRefusal(body as never) }),
  },
  createToken: {
    action: VERB_ACTIONS.createToken,
    environment: () => null,
    body: 'required',
    run: async ({ store, body, options, c }) => {
      // A caller may send the hash of a token it made, or let the server mint one (shown once, never stored).
      for (const key of ['hash', 'id', 'actor'] as const) {
        if (body[key] !== undefined && typeof body[key] !== 'string') {
          fail(400, 'invalid', `[store-server] token: ${key} must be a string`);
        }
      }
      let token: string | undefined;
      let input = body;
      if (body.hash === undefined) {
        token = mintToken();
        input = { ...body, hash: hashToken(token) };
      }
      const result = await store.createToken(input as never, options);
      c.get('deps').onTokensChanged();
      return {
        kind: 'mutation',
        result,
        created: true,
        ...(token !== undefined && !result.replayed ? { extra: { token } } : {}),
      };
    },
  },
  listTokens: {
    action: 'token.read',
    environment: () => null,
    run: async ({ store }) => ({ kind: 'page', items: await store.listTokens(), keyOf: (v: { id: string }) => v.id }),
  },
  revokeToken: {
    action: VERB_ACTIONS.revokeToken,
    environment: () => null,
    run: async ({ store, params, options, c }) => {
      const result = await store.revokeToken(params.token ?? '', options);
      c.get('deps').onTokensChanged();
      return mutation(result, false);
    },
  },
  findTokenByHash: {
    action: 'token.read',
    environment: () => null,
    run: async ({ store, params }) => {
      const found = await store.findTokenByHash(params.hash ?? '');
      if (found === undefined) fail(404, 'not-found', '[store-server] no active token has that hash');
      return obj(found);
    },
  },
  backup: {
    action: 'store.backup',
    environment: () => null,
    body: 'required',
    run: async ({ store, body }) => ({ kind: 'value', value: await store.backup(fieldString(body, 'file', 'backup')) }),
  },
  restore: {
    action: VERB_ACTIONS.restore,
    environment: () => null,
    body: 'required',
    run: async ({ store, body, options }) => {
      const force = body.force;
      if (force !== undefined && typeof force !== 'boolean')
        fail(400, 'invalid', '[store-server] restore: force must be true or false');
      return {
        kind: 'value',
        value: await store.restore(fieldString(body, 'file', 'restore'), {
          actor: options.actor,
          ...(options.requestId === undefined ? {} : { requestId: options.requestId }),
          ...(force === undefined ? {} : { force }),
        }),
      };
    },
  },
  verifyIntegrity: {
    action: 'store.verify',
    environment: () => null,
    body: 'optional',
    run: async ({ store, c }) => {
      const report = await store.verifyIntegrity();
      recordIntegrity(c.get('deps').health, report);
      return { kind: 'value', value: report };
    },
  },
  applyRetention: {
    action: VERB_ACTIONS.applyRetention,
    environment: () => null,
    body: 'required',
    run: async ({ store, body, options }) => ({
      kind: 'value',
      value: await store.applyRetention(body as never, {
        actor: options.actor,
        ...(options.requestId === undefined ? {} : { requestId: options.requestId }),
      }),
    }),
  },
};

const obj = (versioned: Versioned<unknown>): Outcome => ({ kind: 'object', versioned });
const mutation = (result: MutationResult<unknown>, created: boolean): Outcome => ({
  kind: 'mutation',
  result,
  created,
});

function integerParam(raw: string, name: string): number {
  if (!/^[0-9]{1,9}$/.test(raw))
    fail(
      400,
      'invalid',
      `[store-server] ${name} must be a non-negative integer, got ${JSON.stringify(raw.slice(0, 32))}`,
    );
  return Number(raw);
}

function canRead(principal: Principal, action: Action, environment: string): boolean {
  return authorize(principal, { environment, action }).allowed;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/**
 * A body whose Content-Length was declared (and checked against the limit by the app's middleware), read straight
 * from Node's IncomingMessage: HTTP framing guarantees no more than the declared bytes arrive.
 */
function readDeclared(incoming: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const onData = (chunk: Buffer) => chunks.push(chunk);
    const onEnd = () => {
      done();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
    };
    const onError = (error: Error) => {
      done();
      reject(error);
    };
    const onClose = () => {
      done();
      reject(new Error('[store-server] the client closed the connection before the body was complete'));
    };
    const done = () => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onError);
      incoming.off('close', onClose);
    };
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', onError);
    incoming.on('close', onClose);
  });
}

/** Reads the body as UTF-8, refusing (413) as soon as it grows past the limit, declared length or not. */
async function readLimited(c: StoreContext): Promise<string> {
  const limit = c.get('deps').bodyLimitBytes;
  const incoming = c.env?.incoming;
  // Fast path under node-server: a declared length (already ≤ limit) from an untouched IncomingMessage.
  if (
    incoming !== undefined &&
    incoming.headers['content-length'] !== undefined &&
    incoming.headers['transfer-encoding'] === undefined &&
    !incoming.readableDidRead &&
    !incoming.readableEnded
  ) {
    const bytes = await readDeclared(incoming);
    if (bytes.byteLength > limit) {
      fail(413, 'too-large', `[store-server] the request body exceeds ${limit} bytes; send a smaller object`);
    }
    return utf8.decode(bytes);
  }
  const stream = c.req.raw.body;
  if (stream === null) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      fail(413, 'too-large', `[store-server] the request body exceeds ${limit} bytes; send a smaller object`);
    }
    chunks.push(value);
  }
  return utf8.decode(Buffer.concat(chunks));
}

/** Reads the body as one JSON object: 415 for another media type, 400 for bad JSON or a non-object. */
async function readJsonObject(c: StoreContext, mode: 'required' | 'optional'): Promise<Json> {
  const text = await readLimited(c);
  if (text.length === 0) {
    if (mode === 'optional') return {};
    fail(400, 'malformed-json', `[store-server] ${c.req.method} ${c.req.path} needs a JSON object body`);
  }
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/([a-z0-9.+-]+\+)?json\s*(;.*)?$/i.test(type)) {
    fail(415, 'unsupported-media-type', '[store-server] send the body as Content-Type: application/json');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    fail(400, 'malformed-json', `[store-server] the body of ${c.req.method} ${c.req.path} is not valid JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    fail(400, 'malformed-json', `[store-server] the body of ${c.req.method} ${c.req.path} must be a JSON object`);
  }
  return parsed as Json;
}

/** Records a 401/403 in the audit chain; a failure to record is logged, never hidden behind a 500. */
async function auditRefusal(
  c: StoreContext,
  refusal: {
    actor: string;
    environment: string | null;
    action: Action;
    target: string;
    status: number;
    code: string;
    detail: string;
  },
): Promise<void> {
  const deps = c.get('deps');
  try {
    await deps.store.appendRefusal({
      ...refusal,
      environment: refusal.environment !== null && isDnsLabel(refusal.environment) ? refusal.environment : null,
      action: /^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)*$/.test(refusal.action) ? refusal.action : 'request.unknown',
      requestId: c.get('requestId'),
      detail: refusal.detail.slice(0, 4096),
    });
  } catch (error) {
    deps.logger.error('[store-server] could not audit a refusal', {
      requestId: c.get('requestId'),
      status: refusal.status,
      error: error instanceof Error ? error.message : String(error),
    });
  }
}

function parsePreconditions(c: StoreContext): { expectedVersion?: string; createOnly?: boolean } {
  const ifMatch = c.req.header(HTTP_HEADERS.ifMatch);
  const ifNoneMatch = c.req.header(HTTP_HEADERS.ifNoneMatch);
  const out: { expectedVersion?: string; createOnly?: boolean } = {};
  if (ifMatch !== undefined) {
    const version = versionOfEtag(ifMatch);
    if (version === undefined) {
      fail(
        400,
        'invalid',
        '[store-server] If-Match must be one strong entity tag as sent in ETag, e.g. "v3-1a2b3c4d5e6f"',
      );
    }
    out.expectedVersion = version;
  }
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch.trim() !== '*')
      fail(400, 'invalid', '[store-server] on a write, If-None-Match accepts only * (create only)');
    out.createOnly = true;
  }
  return out;
}

/** Turns an outcome into the response. Mutations are rebuilt from the stored result, so a replay is byte-identical. */
function respond(c: StoreContext, outcome: Outcome, query: (name: string) => string | undefined): Response {
  const requestId = c.get('requestId');
  switch (outcome.kind) {
    case 'object': {
      const etag = etagOf(outcome.versioned.version);
      // RFC 9110 §13.1.2: If-None-Match uses weak comparison; our tags are strong, so equality suffices.
      const ifNoneMatch = c.req.method === 'GET' ? c.req.header(HTTP_HEADERS.ifNoneMatch) : undefined;
      if (ifNoneMatch?.split(/\s*,\s*/).includes(etag)) {
        return reply(304, null, { ETag: etag, [HTTP_HEADERS.requestId]: requestId });
      }
      // A SQL store's object read carries its JSON text already made: no parse and re-serialization per read.
      const body = storedJson(outcome.versioned) ?? JSON.stringify(outcome.versioned.value);
      return reply(200, body, {
        'content-type': JSON_TYPE,
        ETag: etag,
        [HTTP_HEADERS.requestId]: requestId,
      });
    }
    case 'page': {
      const page = paginate(
        outcome.items,
        outcome.keyOf as (v: unknown) => string,
        c.req.query('cursor'),
        pageLimit(query('limit')),
      );
      return reply(200, JSON.stringify(page), { 'content-type': JSON_TYPE, [HTTP_HEADERS.requestId]: requestId });
    }
    case 'value':
      return reply(200, JSON.stringify(outcome.value), {
        'content-type': JSON_TYPE,
        [HTTP_HEADERS.requestId]: requestId,
      });
    case 'mutation': {
      const { result, created } = outcome;
      // A replay answers with the first call's request id, as the first answer did.
      const headers: Record<string, string> = { [HTTP_HEADERS.requestId]: result.requestId };
      if (result.version !== null) headers.ETag = etagOf(result.version);
      if (result.replayed) headers[HTTP_HEADERS.replayed] = 'true';
      if (result.value === null && result.version === null) return reply(204, null, headers);
      const body = outcome.extra === undefined ? result.value : { ...(result.value as Json), ...outcome.extra };
      return reply(created ? 201 : 200, JSON.stringify(body), { 'content-type': JSON_TYPE, ...headers });
    }
  }
}

function makeHandler(name: HttpRouteName, spec: VerbSpec) {
  const route = HTTP_ROUTES[name];
  // The label metrics and the access log use: the route pattern in Hono's spelling.
  const pattern = route.path.replace(/\{([a-z]+)\}/g, ':$1');
  return async (c: StoreContext): Promise<Response> => {
    c.set('route', pattern);
    const deps = c.get('deps');
    const params = c.req.param() as Params;
    const query = (n: string) => c.req.query(n);
    const environment = spec.environment ? spec.environment({ params, query }) : (params.environment ?? null);
    const target = () => auditTarget(params, c.req.path);

    // 1. authenticate
    const outcome = await deps.identity.identify({
      authorization: c.req.header('authorization'),
      peerCertificate: peerCertificateOf(c.env?.incoming?.socket),
    });
    let bodyResult: { ok: true; body: Json } | { ok: false; error: unknown } = { ok: true, body: {} };
    if (spec.body !== undefined) {
      try {
        bodyResult = { ok: true, body: await readJsonObject(c, spec.body) };
      } catch (error) {
        bodyResult = { ok: false, error };
      }
    }
    const action =
      typeof spec.action === 'function' ? spec.action(bodyResult.ok ? bodyResult.body : undefined) : spec.action;
    if (outcome.kind !== 'authenticated') {
      const reason = outcome.kind === 'rejected' ? outcome.reason : 'no credentials';
      await auditRefusal(c, {
        actor: 'anonymous',
        environment,
        action,
        target: target(),
        status: 401,
        code: 'unauthorized',
        detail: reason,
      });
      fail(401, 'unauthorized', `[store-server] ${reason}`, { 'WWW-Authenticate': 'Bearer realm="greentic-store"' });
    }
    const principal = outcome.principal;
    c.set('principal', principal);

    // 2. authorize (and, for an admin acting for someone, the delegation itself)
    const decision =
      spec.filtered === true && principal.grants.length + principal.rules.length > 0
        ? ({ allowed: true } as const)
        : authorize(principal, { environment, action });
    const onBehalfOf = c.req.header(ON_BEHALF_OF_HEADER);
    const delegation =
      onBehalfOf === undefined
        ? ({ allowed: true } as const)
        : authorize(principal, { environment: null, action: 'actor.delegate' });
    if (!decision.allowed || !delegation.allowed) {
      const reason = !decision.allowed
        ? decision.reason
        : `actor ${principal.actor} may not act on behalf of another actor`;
      await auditRefusal(c, {
        actor: principal.actor,
        environment,
        action,
        target: target(),
        status: 403,
        code: 'forbidden',
        detail: reason,
      });
      fail(403, 'forbidden', `[store-server] ${reason}`);
    }
    if (onBehalfOf !== undefined && !ACTOR_NAME.test(onBehalfOf)) {
      fail(400, 'invalid', `[store-server] ${ON_BEHALF_OF_HEADER} must be an actor name without whitespace`);
    }
    if (!bodyResult.ok) throw bodyResult.error;

    // 3. the mutation options: the store runs the ledger, then the preconditions, then the change.
    let options: MutationOptions = {
      actor: onBehalfOf ?? principal.actor,
      idempotencyKey: '',
      requestId: c.get('requestId'),
    };
    if (route.mutating) {
      const key = c.req.header(HTTP_HEADERS.idempotencyKey);
      if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) {
        fail(400, 'invalid', '[store-server] Idempotency-Key must be 1–200 printable ASCII characters without spaces');
      }
      options = {
        ...options,
        // Without a key the request is still executed once, but a retry cannot be recognised.
        idempotencyKey: key ?? `server-${c.get('requestId')}`,
        ...parsePreconditions(c),
      };
    }
    // The store guards a key while its transaction runs; this guards it for the whole request on this server
    // (body, store call, response), so a duplicate that arrives meanwhile is told to retry, not queued.
    const running = route.mutating ? `${options.actor} ${options.idempotencyKey}` : undefined;
    if (running !== undefined) {
      if (deps.runningKeys.has(running)) {
        throw new StoreError(
          'idempotency-in-flight',
          `[store-server] the first request with idempotency key ${JSON.stringify(options.idempotencyKey)} is still running; retry after it finished`,
        );
      }
      deps.runningKeys.add(running);
    }
    try {
      const result = await spec.run({ c, params, store: deps.store, principal, body: bodyResult.body, options, query });
      return respond(c, result, query);
    } finally {
      if (running !== undefined) deps.runningKeys.delete(running);
    }
  };
}

/**
 * Registers every verb route through `register` (the app adds it to Hono and to the node listener's route
 * table), each as one handler, passed through `wrap` (the app's request id, metrics and access log).
 *
 * @example
 * const app = new Hono();
 * mountVerbRoutes((method, path, handler) => app.on(method, path, handler));
 */
export function mountVerbRoutes(
  register: (method: string, path: string, handler: Handler) => void,
  wrap: (handler: Handler) => Handler = (h) => h,
): void {
  // One handler per route (no middleware chain, no sub-apps): Hono then calls it straight.
  for (const [name, spec] of Object.entries(VERBS) as [HttpRouteName, VerbSpec][]) {
    const route = HTTP_ROUTES[name];
    register(route.method, route.path.replace(/\{([a-z]+)\}/g, ':$1'), wrap(makeHandler(name, spec)));
  }
}
