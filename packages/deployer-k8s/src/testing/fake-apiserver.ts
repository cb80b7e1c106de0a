import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { parse as parseYaml } from 'yaml';
import { KINDS, type KindInfo } from '../kinds';

// A fake Kubernetes API server on loopback, speaking the subset of the API the typed client relies on, with the
// real status codes and Status shapes. What it emulates, and what it does not, is listed in the package README
// ("The fake API server"). It is a test kit: single process, in memory, no persistence.

/** One RBAC rule of the fake's rule set. `namespace` absent = granted cluster-wide (a ClusterRoleBinding). */
export interface FakeRbacRule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
  readonly namespace?: string;
  readonly resourceNames?: readonly string[];
}

/** A user the fake knows by bearer token. */
export interface FakeUser {
  readonly name: string;
  readonly rules: readonly FakeRbacRule[];
}

export interface FakeApiServerOptions {
  /**
   * Bearer token → user, and `cert:<CN>` → user for client certificates (HTTPS mode). Absent: no authentication and
   * every request is allowed (as `system:admin`).
   */
  readonly users?: Readonly<Record<string, FakeUser>>;
  /** Delay before an applied Deployment reports its replicas ready (default 50 ms). */
  readonly availableAfterMs?: number;
  /** Delay between deleting a Namespace (Terminating) and its removal with its content (default 100 ms). */
  readonly namespaceTerminationMs?: number;
  /**
   * Run each Deployment with replicas > 0 as one local HTTP server (its "pod"): GET /healthz → 200, GET /slow?ms=N
   * → 200 after N ms, GET / → the identity from its env, anything else → 404. Readiness is its readinessProbe path
   * answering 2xx. Scaling to 0 or deleting stops it gracefully (in-flight requests finish). Default false.
   */
  readonly pods?: boolean;
  /**
   * Serve HTTPS with this key and certificate; client certificates signed by `ca` authenticate as `cert:<CN>`
   * (as the API server's client-certificate authentication does).
   */
  readonly tls?: { readonly key: string | Buffer; readonly cert: string | Buffer; readonly ca?: string | Buffer };
  /** Whether a Deployment's pods ever become ready (default: always). False leaves it unavailable forever. */
  readonly becomesAvailable?: (deployment: FakeObject) => boolean;
}

/** A stored object as plain JSON. */
export type FakeObject = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: Record<string, unknown> & { name: string; namespace?: string };
};

/** One request the fake answered (for assertions on the wire format). */
export interface FakeRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly contentType: string | undefined;
  readonly status: number;
}

export interface FakeApiServer {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** Every request answered so far. */
  readonly requests: readonly FakeRequest[];
  /** A stored object, or undefined. */
  get(kind: string, namespace: string | undefined, name: string): FakeObject | undefined;
  /** Every stored object of a kind (all when `kind` is absent), sorted by namespace and name. */
  list(kind?: string): FakeObject[];
  /** Apply as another field manager, out of band (e.g. `kubectl` scaling a Deployment): drift for tests. */
  applyAs(manager: string, object: FakeObject, options?: { force?: boolean }): { status: number; body: unknown };
  /** Remove an object out of band (no termination delay, its pod killed at once): drift for tests. */
  remove(kind: string, namespace: string | undefined, name: string): boolean;
  /**
   * With `pods: true`: the URL of the pod a Service selects (the "pod network" as seen from the test), or undefined
   * while no pod of it runs.
   */
  endpointOf(namespace: string, service: string): string | undefined;
  /** Stop listening and cancel every timer. */
  close(): Promise<void>;
}

interface Stored {
  object: FakeObject;
  info: KindInfo;
  /** Leaf path (JSON array of keys) → managers that own it. */
  owners: Map<string, Set<string>>;
  /** Manager → apiVersion it last applied with. */
  managers: Map<string, string>;
}

const SERVER_METADATA = new Set([
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'managedFields',
  'deletionTimestamp',
]);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Leaves of an applied config: maps recurse, lists and scalars are atomic (a simplification, see README). */
function flatten(value: unknown, prefix: string[] = [], out = new Map<string, unknown>()): Map<string, unknown> {
  if (isPlainObject(value) && Object.keys(value).length > 0) {
    for (const [k, v] of Object.entries(value)) {
      if (prefix.length === 0 && k === 'status') continue;
      if (prefix.length === 1 && prefix[0] === 'metadata' && SERVER_METADATA.has(k)) continue;
      flatten(v, [...prefix, k], out);
    }
  } else if (prefix.length > 0) {
    out.set(JSON.stringify(prefix), value);
  }
  return out;
}

function unflatten(leaves: Map<string, unknown>): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [key, value] of [...leaves].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const path = JSON.parse(key) as string[];
    let node = root;
    for (const k of path.slice(0, -1)) {
      if (!isPlainObject(node[k])) node[k] = {};
      node = node[k] as Record<string, unknown>;
    }
    node[path[path.length - 1] as string] = structuredClone(value);
  }
  return root;
}

const fieldOf = (key: string) => `.${(JSON.parse(key) as string[]).join('.')}`;

/** FieldsV1 (`f:spec: { f:replicas: {} }`) of the leaves one manager owns. */
function fieldsV1(keys: string[]): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const key of keys.sort()) {
    let node = root;
    for (const k of JSON.parse(key) as string[]) {
      const f = `f:${k}`;
      if (!isPlainObject(node[f])) node[f] = {};
      node = node[f] as Record<string, unknown>;
    }
  }
  return root;
}

function status(code: number, reason: string, message: string, details: Record<string, unknown> = {}) {
  return { apiVersion: 'v1', code, details, kind: 'Status', message, metadata: {}, reason, status: 'Failure' };
}

interface Route {
  info: KindInfo;
  namespace: string | undefined;
  name: string | undefined;
}

/** Match a path against the kinds the fake serves (the closed kind table). */
function route(path: string): Route | undefined {
  const segs = path.split('/').filter(Boolean).map(decodeURIComponent);
  let group: string;
  let version: string;
  let rest: string[];
  if (segs[0] === 'api' && segs[1] === 'v1') {
    group = '';
    version = 'v1';
    rest = segs.slice(2);
  } else if (segs[0] === 'apis' && segs.length >= 3) {
    group = segs[1] as string;
    version = segs[2] as string;
    rest = segs.slice(3);
  } else return undefined;
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  if (rest.length < 1 || rest.length > 2) return undefined;
  const info = KINDS.find(
    (k) =>
      k.group === group && k.apiVersion === (group === '' ? version : `${group}/${version}`) && k.resource === rest[0],
  );
  if (!info || info.namespaced !== (namespace !== undefined)) return undefined;
  return { info, namespace, name: rest[1] };
}

function ruleAllows(
  rule: FakeRbacRule,
  verb: string,
  group: string,
  resource: string,
  ns: string | undefined,
  name?: string,
) {
  const has = (list: readonly string[], v: string) => list.includes('*') || list.includes(v);
  if (!has(rule.apiGroups, group) || !has(rule.resources, resource) || !has(rule.verbs, verb)) return false;
  if (rule.namespace !== undefined && rule.namespace !== ns) return false;
  if (rule.resourceNames && rule.resourceNames.length > 0 && (name === undefined || !rule.resourceNames.includes(name)))
    return false;
  return true;
}

/**
 * Start a fake Kubernetes API server on 127.0.0.1 (port 0). Stop it with `close()` in afterAll/afterEach.
 *
 * @example
 * const fake = await startFakeApiServer({ users: { t0k3n: { name: 'deployer', rules: [...] } } });
 * const client = new KubeClient(targetFor(fake.url, 't0k3n'));
 */
export async function startFakeApiServer(options: FakeApiServerOptions = {}): Promise<FakeApiServer> {
  const store = new Map<string, Stored>();
  const requests: FakeRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let resourceVersion = 1000;
  let uidCounter = 0;
  const availableAfterMs = options.availableAfterMs ?? 50;
  const terminationMs = options.namespaceTerminationMs ?? 100;

  const keyOf = (info: KindInfo, ns: string | undefined, name: string) =>
    `${info.group}/${info.resource}/${ns ?? ''}/${name}`;
  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    t.unref();
    timers.add(t);
  };
  const nsObject = (name: string) => store.get(keyOf(KINDS[0] as KindInfo, undefined, name))?.object;
  const notFound = (info: KindInfo, name: string) =>
    status(404, 'NotFound', `${info.resource}${info.group ? `.${info.group}` : ''} "${name}" not found`, {
      group: info.group,
      kind: info.resource,
      name,
    });

  /** The pod server of a Deployment key (options.pods), and its generation. */
  const pods = new Map<string, { url: string; generation: number; server: Server }>();
  const stopping = new Set<Promise<void>>();

  function stopPod(key: string, graceful: boolean): Promise<void> {
    const pod = pods.get(key);
    if (!pod) return Promise.resolve();
    pods.delete(key);
    // Graceful = a pod's termination: no new connections, in-flight requests finish (bounded by the grace period).
    const done = new Promise<void>((resolve) => {
      const force = setTimeout(() => pod.server.closeAllConnections(), graceful ? 30_000 : 0);
      force.unref();
      // A connection whose last request just finished goes idle: close it then, as a terminating pod would.
      const idle = setInterval(() => pod.server.closeIdleConnections(), 20);
      idle.unref();
      pod.server.close(() => {
        clearTimeout(force);
        clearInterval(idle);
        resolve();
      });
      pod.server.closeIdleConnections();
      if (!graceful) pod.server.closeAllConnections();
    });
    stopping.add(done);
    void done.then(() => stopping.delete(done));
    return done;
  }

  async function startPod(key: string, o: FakeObject, generation: number): Promise<string> {
    const spec = o.spec as { template?: { spec?: { containers?: { env?: { name: string; value?: string }[] }[] } } };
    const env = Object.fromEntries(
      (spec.template?.spec?.containers?.[0]?.env ?? []).map((e) => [e.name, e.value ?? '']),
    );
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://pod');
      if (url.pathname === '/healthz') {
        res.end('ok');
      } else if (url.pathname === '/slow') {
        const ms = Math.min(Number(url.searchParams.get('ms') ?? 0) || 0, 60_000);
        const t = setTimeout(() => res.end(`slow ${ms} ms done`), ms);
        res.on('close', () => clearTimeout(t));
      } else if (url.pathname === '/') {
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            bundleDigest: env.GREENTIC_BUNDLE_DIGEST,
            deployment: env.GREENTIC_DEPLOYMENT,
            revision: env.GREENTIC_REVISION,
          }),
        );
      } else {
        res.statusCode = 404;
        res.end('not found');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    pods.set(key, { generation, server, url });
    return url;
  }

  /** Kubelet's readiness probe, against the pod server: the readinessProbe's httpGet path must answer 2xx. */
  async function ready(url: string, o: FakeObject): Promise<boolean> {
    const spec = o.spec as {
      template?: { spec?: { containers?: { readinessProbe?: { httpGet?: { path?: string } } }[] } };
    };
    const path = spec.template?.spec?.containers?.[0]?.readinessProbe?.httpGet?.path ?? '/healthz';
    try {
      const res = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      return res.ok;
    } catch {
      return false;
    }
  }

  function scheduleAvailability(key: string, s: Stored) {
    if (s.info.kind !== 'Deployment') return;
    const o = s.object;
    const generation = (o.metadata.generation as number) ?? 1;
    const replicas = ((o.spec as { replicas?: number } | undefined)?.replicas ?? 1) as number;
    const running = pods.get(key);
    const previous = (o.status as { replicas?: number } | undefined)?.replicas ?? 0;
    o.status = {
      observedGeneration: generation,
      replicas: Math.max(replicas, running ? previous : 0),
      unavailableReplicas: replicas,
      updatedReplicas: 0,
      conditions: [
        { type: 'Available', status: replicas === 0 ? 'True' : 'False', reason: 'MinimumReplicasUnavailable' },
      ],
    };
    const isCurrent = () => (store.get(key)?.object.metadata.generation as number | undefined) === generation;
    const stopped = running && running.generation !== generation ? stopPod(key, true) : Promise.resolve();
    if (replicas === 0) {
      // Scaled to zero: the old pod terminates gracefully, then the Deployment reports no replicas.
      void stopped.then(() => {
        const current = store.get(key);
        if (current && isCurrent()) current.object.status = { observedGeneration: generation, replicas: 0 };
      });
      return;
    }
    later(availableAfterMs, () => {
      void (async () => {
        await stopped;
        if (!isCurrent()) return;
        let ok = true;
        if (options.pods) {
          const url = pods.get(key)?.url ?? (await startPod(key, o, generation));
          ok = await ready(url, o);
        }
        const current = store.get(key);
        if (!current || !isCurrent()) return;
        if (!ok || (options.becomesAvailable && !options.becomesAvailable(current.object))) return;
        current.object.status = {
          availableReplicas: replicas,
          conditions: [{ type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' }],
          observedGeneration: generation,
          readyReplicas: replicas,
          replicas,
          updatedReplicas: replicas,
        };
      })();
    });
  }

  function apply(route: Route, manager: string, force: boolean, body: unknown): { status: number; body: unknown } {
    const { info, namespace } = route;
    const name = route.name as string;
    if (!isPlainObject(body))
      return { status: 400, body: status(400, 'BadRequest', 'the apply patch is not an object') };
    const meta = isPlainObject(body.metadata) ? body.metadata : {};
    if (body.kind !== info.kind || body.apiVersion !== info.apiVersion) {
      return {
        status: 400,
        body: status(
          400,
          'BadRequest',
          `apply patch kind ${String(body.kind)}/${String(body.apiVersion)} does not match ${info.kind}/${info.apiVersion}`,
        ),
      };
    }
    if (meta.name !== name || (meta.namespace !== undefined && meta.namespace !== namespace)) {
      return {
        status: 400,
        body: status(400, 'BadRequest', 'the name (or namespace) of the object does not match the URL'),
      };
    }
    const key = keyOf(info, namespace, name);
    const existing = store.get(key);
    if (namespace !== undefined) {
      const ns = nsObject(namespace);
      if (!ns) {
        return {
          status: 404,
          body: status(404, 'NotFound', `namespaces "${namespace}" not found`, { kind: 'namespaces', name: namespace }),
        };
      }
      // NamespaceLifecycle admission: nothing new may be created in a namespace that is being deleted.
      if (!existing && (ns.status as { phase?: string } | undefined)?.phase === 'Terminating') {
        return {
          status: 403,
          body: status(
            403,
            'Forbidden',
            `${info.resource} "${name}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`,
            { kind: info.resource, name },
          ),
        };
      }
    }
    const applied = flatten({ ...body, metadata: { ...meta, namespace } });
    if (namespace === undefined) applied.delete(JSON.stringify(['metadata', 'namespace']));
    const current = existing ? flatten(existing.object) : new Map<string, unknown>();
    const owners = existing
      ? new Map([...existing.owners].map(([k, v]) => [k, new Set(v)]))
      : new Map<string, Set<string>>();
    const conflicts: { field: string; manager: string }[] = [];
    for (const [leaf, value] of applied) {
      const others = [...(owners.get(leaf) ?? [])].filter((m) => m !== manager);
      if (others.length > 0 && current.has(leaf) && JSON.stringify(current.get(leaf)) !== JSON.stringify(value)) {
        for (const m of others) conflicts.push({ field: fieldOf(leaf), manager: m });
      }
    }
    if (conflicts.length > 0 && !force) {
      const msg = conflicts.map((c) => `conflict with "${c.manager}": ${c.field}`).join(', ');
      return {
        status: 409,
        body: status(409, 'Conflict', `Apply failed with ${conflicts.length} conflict(s): ${msg}`, {
          causes: conflicts.map((c) => ({
            field: c.field,
            message: `conflict with "${c.manager}"`,
            type: 'FieldManagerConflict',
          })),
        }),
      };
    }
    // Fields this manager applied before and no longer applies are released; unowned ones disappear.
    for (const [leaf, set] of owners) {
      if (!set.has(manager) || applied.has(leaf)) continue;
      set.delete(manager);
      if (set.size === 0) {
        owners.delete(leaf);
        current.delete(leaf);
      }
    }
    for (const [leaf, value] of applied) {
      const changed = JSON.stringify(current.get(leaf)) !== JSON.stringify(value);
      // A path that was a map is now a leaf (or the reverse): drop what sat below/above it.
      for (const other of [...current.keys()]) {
        if (
          other !== leaf &&
          (other.startsWith(leaf.slice(0, -1) + ',') || leaf.startsWith(other.slice(0, -1) + ','))
        ) {
          current.delete(other);
          owners.delete(other);
        }
      }
      current.set(leaf, value);
      // A changed value belongs to this manager alone (others lost it: no conflict, or forced); an equal one is shared.
      const set = changed ? new Set<string>() : (owners.get(leaf) ?? new Set<string>());
      set.add(manager);
      owners.set(leaf, set);
    }
    if (existing) {
      // A no-op apply changes nothing, not even the resourceVersion (the SSA contract that makes apply idempotent).
      const same =
        JSON.stringify([...flatten(existing.object)].sort()) === JSON.stringify([...current].sort()) &&
        JSON.stringify([...existing.owners].map(([k, v]) => [k, [...v].sort()]).sort()) ===
          JSON.stringify([...owners].map(([k, v]) => [k, [...v].sort()]).sort());
      if (same && existing.managers.has(manager)) return { status: 200, body: existing.object };
    }
    const object = unflatten(current) as FakeObject;
    const specOf = (o: FakeObject) => JSON.stringify([...flatten(o.spec ?? {}, ['spec'])]);
    const before = existing ? specOf(existing.object) : '';
    const after = specOf(object);
    const prevMeta: Record<string, unknown> = existing?.object.metadata ?? {};
    const generation = existing ? ((prevMeta.generation as number) ?? 1) + (before === after ? 0 : 1) : 1;
    const managersMap = new Map(existing?.managers ?? []);
    managersMap.set(manager, info.apiVersion);
    const byManager = new Map<string, string[]>();
    for (const [leaf, set] of owners) for (const m of set) byManager.set(m, [...(byManager.get(m) ?? []), leaf]);
    object.metadata = {
      ...object.metadata,
      creationTimestamp: (prevMeta.creationTimestamp as string) ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      generation,
      managedFields: [...byManager.keys()].sort().map((m) => ({
        apiVersion: managersMap.get(m) ?? info.apiVersion,
        fieldsType: 'FieldsV1',
        fieldsV1: fieldsV1(byManager.get(m) ?? []),
        manager: m,
        operation: 'Apply',
      })),
      resourceVersion: String(++resourceVersion),
      uid: (prevMeta.uid as string) ?? `00000000-0000-4000-8000-${String(++uidCounter).padStart(12, '0')}`,
      ...(prevMeta.deletionTimestamp ? { deletionTimestamp: prevMeta.deletionTimestamp } : {}),
    };
    if (info.kind === 'Namespace') object.status = existing?.object.status ?? { phase: 'Active' };
    else if (existing?.object.status) object.status = existing.object.status;
    const stored: Stored = { info, managers: managersMap, object, owners };
    store.set(key, stored);
    if (!existing || before !== after) scheduleAvailability(key, stored);
    return { status: existing ? 200 : 201, body: object };
  }

  function remove(info: KindInfo, namespace: string | undefined, name: string): { status: number; body: unknown } {
    const key = keyOf(info, namespace, name);
    const s = store.get(key);
    if (!s) return { status: 404, body: notFound(info, name) };
    if (info.kind === 'Namespace') {
      s.object.metadata.deletionTimestamp ??= new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      s.object.status = { phase: 'Terminating' };
      later(terminationMs, () => {
        for (const [k, v] of store) {
          if (v.object.metadata.namespace !== name) continue;
          store.delete(k);
          void stopPod(k, true);
        }
        store.delete(key);
      });
      return { status: 200, body: s.object };
    }
    store.delete(key);
    void stopPod(key, true);
    return {
      status: 200,
      body: {
        apiVersion: 'v1',
        details: { group: info.group, kind: info.resource, name, uid: s.object.metadata.uid },
        kind: 'Status',
        metadata: {},
        status: 'Success',
      },
    };
  }

  function authorize(
    user: FakeUser | undefined,
    verb: string,
    info: { group: string; resource: string },
    ns?: string,
    name?: string,
  ) {
    if (!options.users) return true;
    return (user?.rules ?? []).some((r) => ruleAllows(r, verb, info.group, info.resource, ns, name));
  }

  async function handle(req: IncomingMessage): Promise<{ status: number; body: unknown }> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let user: FakeUser | undefined;
    if (options.users) {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      user = token === undefined ? undefined : options.users[token];
      const socket = req.socket as TLSSocket;
      if (!user && options.tls && socket.authorized) {
        const cn = socket.getPeerCertificate()?.subject?.CN;
        user = typeof cn === 'string' ? options.users[`cert:${cn}`] : undefined;
      }
      if (!user) return { status: 401, body: status(401, 'Unauthorized', 'Unauthorized') };
    }
    const userName = user?.name ?? 'system:admin';
    if (req.method === 'POST' && url.pathname === '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews') {
      const review = JSON.parse(text || '{}') as { spec?: { resourceAttributes?: Record<string, string> } };
      const a = review.spec?.resourceAttributes ?? {};
      const resource = a.subresource ? `${a.resource ?? ''}/${a.subresource}` : (a.resource ?? '');
      const allowed = authorize(
        user,
        a.verb ?? '',
        { group: a.group ?? '', resource },
        a.namespace || undefined,
        a.name || undefined,
      );
      return {
        status: 201,
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SelfSubjectAccessReview',
          spec: review.spec ?? {},
          status: { allowed },
        },
      };
    }
    if (req.method === 'POST' && url.pathname === '/apis/authentication.k8s.io/v1/selfsubjectreviews') {
      return {
        status: 201,
        body: {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'SelfSubjectReview',
          status: { userInfo: { username: userName } },
        },
      };
    }
    const r = route(url.pathname);
    if (!r) return { status: 404, body: status(404, 'NotFound', 'the server could not find the requested resource') };
    const { info, namespace, name } = r;
    const forbidden = (verb: string) => ({
      status: 403,
      body: status(
        403,
        'Forbidden',
        `${info.resource}${info.group ? `.${info.group}` : ''}${name ? ` "${name}"` : ''} is forbidden: User "${userName}" cannot ${verb} resource "${info.resource}" in API group "${info.group}"${namespace ? ` in the namespace "${namespace}"` : ''}`,
        { kind: info.resource, ...(name ? { name } : {}) },
      ),
    });
    if (name === undefined) {
      if (req.method !== 'GET')
        return {
          status: 405,
          body: status(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'),
        };
      if (!authorize(user, 'list', info, namespace)) return forbidden('list');
      const wanted = (url.searchParams.get('labelSelector') ?? '')
        .split(',')
        .filter(Boolean)
        .map((p) => p.split('=') as [string, string]);
      const items = [...store.values()]
        .filter((s) => s.info === info && s.object.metadata.namespace === namespace)
        .filter((s) =>
          wanted.every(([k, v]) => (s.object.metadata.labels as Record<string, string> | undefined)?.[k] === v),
        )
        .map((s) => s.object)
        .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
      return {
        status: 200,
        body: {
          apiVersion: info.apiVersion,
          items,
          kind: `${info.kind}List`,
          metadata: { resourceVersion: String(resourceVersion) },
        },
      };
    }
    if (req.method === 'GET') {
      if (!authorize(user, 'get', info, namespace, name)) return forbidden('get');
      const s = store.get(keyOf(info, namespace, name));
      return s ? { status: 200, body: s.object } : { status: 404, body: notFound(info, name) };
    }
    if (req.method === 'DELETE') {
      if (!authorize(user, 'delete', info, namespace, name)) return forbidden('delete');
      return remove(info, namespace, name);
    }
    if (req.method === 'PATCH') {
      if (req.headers['content-type'] !== 'application/apply-patch+yaml') {
        return {
          status: 415,
          body: status(
            415,
            'UnsupportedMediaType',
            `the body of the request was in an unknown format - accepted media types include: application/apply-patch+yaml`,
          ),
        };
      }
      const manager = url.searchParams.get('fieldManager');
      if (!manager)
        return { status: 400, body: status(400, 'BadRequest', 'fieldManager is required for apply requests') };
      if (!authorize(user, 'patch', info, namespace, name)) return forbidden('patch');
      // Apply of an absent object is a create and needs that right too.
      if (!store.has(keyOf(info, namespace, name)) && !authorize(user, 'create', info, namespace, name))
        return forbidden('create');
      let body: unknown;
      try {
        body = parseYaml(text);
      } catch (e) {
        return { status: 400, body: status(400, 'BadRequest', `error decoding YAML: ${(e as Error).message}`) };
      }
      return apply(r, manager, url.searchParams.get('force') === 'true', body);
    }
    return {
      status: 405,
      body: status(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'),
    };
  }

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    void handle(req)
      .catch((e: unknown) => ({ status: 500, body: status(500, 'InternalError', (e as Error).message) }))
      .then(({ status: code, body }) => {
        const url = new URL(req.url ?? '/', 'http://fake');
        requests.push({
          method: req.method ?? '',
          path: url.pathname,
          query: Object.fromEntries(url.searchParams),
          contentType: req.headers['content-type'],
          status: code,
        });
        res.writeHead(code, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      });
  };
  const server: Server = options.tls
    ? createHttpsServer(
        {
          key: options.tls.key,
          cert: options.tls.cert,
          ...(options.tls.ca ? { ca: options.tls.ca } : {}),
          requestCert: true,
          rejectUnauthorized: false,
        },
        listener,
      )
    : createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const infoOfKind = (kind: string) => {
    const info = KINDS.find((k) => k.kind === kind);
    if (!info) throw new Error(`fake API server: unknown kind ${kind}`);
    return info;
  };

  return {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    requests,
    get: (kind, namespace, name) => store.get(keyOf(infoOfKind(kind), namespace, name))?.object,
    list: (kind) =>
      [...store.values()]
        .filter((s) => kind === undefined || s.info.kind === kind)
        .map((s) => s.object)
        .sort((a, b) =>
          `${a.metadata.namespace ?? ''}/${a.metadata.name}`.localeCompare(
            `${b.metadata.namespace ?? ''}/${b.metadata.name}`,
          ),
        ),
    applyAs: (manager, object, opts = {}) => {
      const info = infoOfKind(object.kind);
      return apply(
        { info, namespace: object.metadata.namespace, name: object.metadata.name },
        manager,
        opts.force ?? false,
        object,
      );
    },
    remove: (kind, namespace, name) => {
      const key = keyOf(infoOfKind(kind), namespace, name);
      void stopPod(key, false);
      return store.delete(key);
    },
    endpointOf: (namespace, service) => {
      const svc = store.get(keyOf(infoOfKind('Service'), namespace, service))?.object;
      const selector = (svc?.spec as { selector?: Record<string, string> } | undefined)?.selector;
      if (!selector) return undefined;
      for (const [key, s] of store) {
        if (s.info.kind !== 'Deployment' || s.object.metadata.namespace !== namespace) continue;
        const labels = (s.object.spec as { template?: { metadata?: { labels?: Record<string, string> } } }).template
          ?.metadata?.labels;
        if (Object.entries(selector).every(([k, v]) => labels?.[k] === v)) return pods.get(key)?.url;
      }
      return undefined;
    },
    close: async () => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await Promise.all([...pods.keys()].map((k) => stopPod(k, false)));
      await Promise.all([...stopping]);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * The fake's rule set for RBAC objects (Role rules bound in their namespace, ClusterRole rules cluster-wide): lets a
 * test hand the fake exactly what a rules pack grants.
 *
 * @example
 * const rules = fakeRulesOf(rbacObjects(env, subject));
 */
export function fakeRulesOf(
  objects: readonly { kind: string; metadata: { namespace?: string }; rules?: unknown }[],
): FakeRbacRule[] {
  const out: FakeRbacRule[] = [];
  for (const o of objects) {
    if (o.kind !== 'Role' && o.kind !== 'ClusterRole') continue;
    for (const r of (o.rules ?? []) as FakeRbacRule[]) {
      out.push({
        apiGroups: r.apiGroups,
        resources: r.resources,
        verbs: r.verbs,
        ...(r.resourceNames ? { resourceNames: r.resourceNames } : {}),
        ...(o.kind === 'Role' && o.metadata.namespace ? { namespace: o.metadata.namespace } : {}),
      });
    }
  }
  return out;
}
