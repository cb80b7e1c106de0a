import { EnvPackError } from '@greentic/env-pack';
import { Agent, request } from 'undici';
import { type K8sObject, kindInfo, objectPath, PACK_ID } from './kinds';
import type { KubeTarget } from './kubeconfig';

/** The field manager every apply of this pack uses. */
export const FIELD_MANAGER = 'greentic-deployer';

/** What SelfSubjectAccessReview asks: may I `verb` this resource (in `namespace`, or cluster-wide when absent)? */
export interface AccessProbe {
  readonly verb: string;
  readonly group: string;
  readonly resource: string;
  readonly namespace?: string;
  readonly name?: string;
  readonly subresource?: string;
}

export interface KubeClientOptions {
  /** Field manager for server-side apply (default `greentic-deployer`). */
  readonly fieldManager?: string;
  /** Take over fields other managers own (default true, as the deployer owns what it renders). */
  readonly force?: boolean;
  /** Per request (default 10 000 ms). */
  readonly timeoutMs?: number;
}

export interface ApplyResult {
  /** `created` (201) or `updated` (200). */
  readonly outcome: 'created' | 'updated';
  readonly object: K8sObject;
}

interface Status {
  kind?: string;
  reason?: string;
  message?: string;
  code?: number;
  details?: { name?: string; kind?: string; causes?: { type?: string; message?: string; field?: string }[] };
}

const describe = (o: { kind: string; metadata: { name: string; namespace?: string } }) =>
  `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;

/**
 * A small typed Kubernetes client: server-side apply, get, list, idempotent delete and access probes, through the
 * closed kind table only. Every failure is an EnvPackError naming the object: 409 → `conflict` (with the fields),
 * 403 → `forbidden`, 404 of a route → `failed` (a bug, never "gone"), network → `unavailable`.
 *
 * Kubeconfig is loaded with @kubernetes/client-node (see kubeconfig.ts); the calls themselves go through undici,
 * so the wire format (content type, query, status codes) is exactly what this file says and what the fake checks.
 *
 * @example
 * const client = new KubeClient(await loadKubeTarget());
 * await client.apply(namespaceObject); // PATCH …?fieldManager=greentic-deployer&force=true
 */
export class KubeClient {
  readonly #target: KubeTarget;
  readonly #agent: Agent;
  readonly #fieldManager: string;
  readonly #force: boolean;
  readonly #timeoutMs: number;

  constructor(target: KubeTarget, options: KubeClientOptions = {}) {
    this.#target = target;
    this.#fieldManager = options.fieldManager ?? FIELD_MANAGER;
    this.#force = options.force ?? true;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#agent = new Agent({
      connect: {
        ...(target.ca ? { ca: target.ca } : {}),
        ...(target.cert ? { cert: target.cert } : {}),
        ...(target.key ? { key: target.key } : {}),
        ...(target.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}),
      },
      headersTimeout: this.#timeoutMs,
      bodyTimeout: this.#timeoutMs,
    });
  }

  /** The API server URL (no credentials). */
  get server(): string {
    return this.#target.server;
  }

  async #call(
    method: 'GET' | 'PATCH' | 'POST' | 'DELETE',
    path: string,
    body?: { contentType: string; text: string },
  ): Promise<{ status: number; json: unknown }> {
    let res: Awaited<ReturnType<typeof request>>;
    try {
      res = await request(`${this.#target.server}${path}`, {
        method,
        dispatcher: this.#agent,
        headers: {
          accept: 'application/json',
          ...this.#target.headers,
          ...(body ? { 'content-type': body.contentType } : {}),
        },
        ...(body ? { body: body.text } : {}),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (e) {
      throw new EnvPackError(
        'unavailable',
        `cannot reach the Kubernetes API at ${this.#target.server} (${method} ${path}): ${(e as Error).message}`,
        {
          pack: PACK_ID,
          cause: e,
        },
      );
    }
    const text = await res.body.text();
    let json: unknown;
    try {
      json = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.statusCode, json };
  }

  #error(status: number, json: unknown, what: string, verb: string): EnvPackError {
    const s = (json ?? {}) as Status;
    const reason = s.message ?? `HTTP ${status}`;
    const details = { status, reason: s.reason, object: what };
    if (status === 409) {
      const fields = (s.details?.causes ?? []).map((c) => c.field).filter((f): f is string => typeof f === 'string');
      const managers = (s.details?.causes ?? [])
        .map((c) => c.message)
        .filter((m): m is string => typeof m === 'string');
      return new EnvPackError(
        'conflict',
        `${what}: ${verb} conflicts with another field manager on ${fields.length > 0 ? fields.join(', ') : 'the object'} (${managers.join('; ') || reason}); re-apply with force or remove the other manager's fields`,
        { pack: PACK_ID, details: { ...details, fields } },
      );
    }
    if (status === 403) {
      return new EnvPackError('forbidden', `${what}: ${verb} forbidden: ${reason}`, { pack: PACK_ID, details });
    }
    if (status === 401) {
      return new EnvPackError('credentials', `${what}: ${verb} unauthorized: the credentials were refused`, {
        pack: PACK_ID,
        details,
      });
    }
    if (status === 404) {
      return new EnvPackError(
        'failed',
        `${what}: ${verb} answered 404 without naming the object (${reason}): the API route is wrong or not served, which is a bug in the kind table or a missing API`,
        { pack: PACK_ID, details },
      );
    }
    if (status >= 500 || status === 429) {
      return new EnvPackError('unavailable', `${what}: ${verb} failed with ${status}: ${reason}`, {
        pack: PACK_ID,
        details,
      });
    }
    return new EnvPackError('failed', `${what}: ${verb} failed with ${status}: ${reason}`, { pack: PACK_ID, details });
  }

  /**
   * Server-side apply one object (`PATCH …?fieldManager=greentic-deployer&force=true`, `application/apply-patch+yaml`).
   * Creates (201) or updates (200). Idempotent.
   */
  async apply(object: K8sObject): Promise<ApplyResult> {
    const info = kindInfo(object.kind, object.apiVersion);
    const path = objectPath(info, object.metadata.namespace, object.metadata.name);
    const query = `?fieldManager=${encodeURIComponent(this.#fieldManager)}${this.#force ? '&force=true' : ''}`;
    // JSON is YAML, and what kubectl sends as an apply patch.
    const { status, json } = await this.#call('PATCH', path + query, {
      contentType: 'application/apply-patch+yaml',
      text: JSON.stringify(object),
    });
    if (status === 200 || status === 201) {
      return { outcome: status === 201 ? 'created' : 'updated', object: json as K8sObject };
    }
    if (status === 404 && (json as Status | undefined)?.details?.kind === 'namespaces') {
      throw new EnvPackError(
        'not-found',
        `${describe(object)}: apply failed, namespace ${object.metadata.namespace} does not exist; apply the Namespace first`,
        {
          pack: PACK_ID,
        },
      );
    }
    throw this.#error(status, json, describe(object), 'apply');
  }

  /** One object, or undefined when the API says it does not exist (404 naming it). */
  async get(
    kind: string,
    apiVersion: string,
    namespace: string | undefined,
    name: string,
  ): Promise<K8sObject | undefined> {
    const info = kindInfo(kind, apiVersion);
    const { status, json } = await this.#call('GET', objectPath(info, namespace, name));
    if (status === 200) return json as K8sObject;
    const what = describe({ kind, metadata: { name, ...(namespace ? { namespace } : {}) } });
    if (status === 404 && (json as Status | undefined)?.details?.name === name) return undefined;
    throw this.#error(status, json, what, 'get');
  }

  /** Objects of a kind in a namespace, filtered by an equality label selector. */
  async list(
    kind: string,
    apiVersion: string,
    namespace: string | undefined,
    labels: Readonly<Record<string, string>> = {},
  ): Promise<K8sObject[]> {
    const info = kindInfo(kind, apiVersion);
    const selector = Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const path = objectPath(info, namespace) + (selector ? `?labelSelector=${encodeURIComponent(selector)}` : '');
    const { status, json } = await this.#call('GET', path);
    if (status === 200) return ((json as { items?: K8sObject[] }).items ?? []).map((o) => ({ ...o, apiVersion, kind }));
    throw this.#error(status, json, `${info.resource} in ${namespace ?? 'the cluster'}`, 'list');
  }

  /**
   * Delete one object. Idempotent: a 404 whose Status names this object means it is already gone (`absent`); a 404
   * that does not name it is a wrong route and throws.
   */
  async delete(
    kind: string,
    apiVersion: string,
    namespace: string | undefined,
    name: string,
  ): Promise<'deleted' | 'absent'> {
    const info = kindInfo(kind, apiVersion);
    const { status, json } = await this.#call('DELETE', objectPath(info, namespace, name));
    if (status === 200 || status === 202) return 'deleted';
    const what = describe({ kind, metadata: { name, ...(namespace ? { namespace } : {}) } });
    if (status === 404 && (json as Status | undefined)?.details?.name === name) return 'absent';
    throw this.#error(status, json, what, 'delete');
  }

  /** Ask the API server whether the current identity may do one thing (SelfSubjectAccessReview). */
  async canI(probe: AccessProbe): Promise<boolean> {
    const { status, json } = await this.#call('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
      contentType: 'application/json',
      text: JSON.stringify({
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SelfSubjectAccessReview',
        spec: { resourceAttributes: { ...probe } },
      }),
    });
    if (status === 200 || status === 201) return (json as { status?: { allowed?: boolean } }).status?.allowed === true;
    throw this.#error(status, json, `access review ${probe.verb} ${probe.resource}`, 'create');
  }

  /** The user name the API server sees for these credentials (SelfSubjectReview), when it says. */
  async whoAmI(): Promise<string | undefined> {
    const { status, json } = await this.#call('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {
      contentType: 'application/json',
      text: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }),
    });
    if (status !== 200 && status !== 201) return undefined;
    return (json as { status?: { userInfo?: { username?: string } } }).status?.userInfo?.username;
  }

  /** Release the connection pool. */
  async close(): Promise<void> {
    await this.#agent.close();
  }
}
