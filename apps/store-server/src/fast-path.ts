import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ResolvedDeps } from './app';
import type { StoreContext, StoreVariables } from './context';
import { builtHeaders, builtReply } from './reply';

// The node listener's route table: requests whose method and path match a route exactly, with a plain path (no
// query, no percent-encoding, no dot segments) and an ordinary Host, are answered here, by the same wrapped
// handler Hono would call, without building a Fetch `Request`, running Hono's router and context, or going
// through node-server's promise path. Everything else (HEAD, queries, encoded paths, chunked bodies, unknown
// routes, 404/405) goes to Hono through node-server, as before.
//
// What a handler sees is what Hono would give it for such a request: the same path and parameters (nothing to
// decode), headers as node-server's `Headers` gives them (repeated fields joined with ", ", surrounding
// whitespace trimmed), and its answer is written as node-server writes one of its lightweight responses.

/** A wrapped route handler (request id, metrics and access log included). */
export type TableHandler = (c: StoreContext) => Promise<Response>;

/** What the node listener needs of an app: its route table, its dependencies and its error handler. */
export interface TableRoutes {
  readonly table: RouteTable;
  readonly deps: ResolvedDeps;
  /** What the app's `onError` answers for an error that escaped a wrapped handler. */
  readonly onError: (c: StoreContext, error: unknown) => Response;
}

interface TableRoute {
  /** Per path segment: the literal, or undefined for a parameter. */
  readonly literals: readonly (string | undefined)[];
  /** Parameter names, with the index of their segment. */
  readonly params: readonly (readonly [string, number])[];
  readonly handler: TableHandler;
}

/** One path segment Hono matches literally and node-server passes on as it came: no encoding, no dot segment. */
const PLAIN_PATH = /^(?:\/[A-Za-z0-9_~!$&'()*+,;=:@.-]+)+$/;
const DOT_SEGMENT = /\/\.\.?(?:\/|$)/;
/** The Host values node-server takes as they are (its `reValidHost`); others go through `new URL`. */
const PLAIN_HOST = /^[a-z0-9._-]+(?::(?:[1-5]\d{3,4}|[6-9]\d{3}))?$/;

/**
 * Routes by method and path template (`/v1/environments/:environment`), matched segment by segment.
 *
 * @example
 * const table = new RouteTable();
 * table.add('GET', '/v1/environments/:environment', handler);
 */
export class RouteTable {
  private readonly byMethod = new Map<string, TableRoute[]>();

  add(method: string, template: string, handler: TableHandler): void {
    const segments = template.split('/').slice(1);
    const params: (readonly [string, number])[] = [];
    const literals = segments.map((segment, i) => {
      if (!segment.startsWith(':')) return segment;
      params.push([segment.slice(1), i]);
      return undefined;
    });
    let routes = this.byMethod.get(method);
    if (routes === undefined) {
      routes = [];
      this.byMethod.set(method, routes);
    }
    routes.push({ literals, params, handler });
  }

  /**
   * Matched plain paths by method: a path seen before is found with one lookup (no pattern test, no split). Only
   * matches are kept, at most 1024 per method (then the cache starts over), and their parameters are frozen.
   */
  private readonly cache = new Map<string, Map<string, TableMatch>>();

  /** The route and parameters of `path`, or undefined when it is not plain (see `PLAIN_PATH`) or matches none. */
  match(method: string, path: string): TableMatch | undefined {
    const cached = this.cache.get(method)?.get(path);
    if (cached !== undefined) return cached;
    if (!PLAIN_PATH.test(path) || DOT_SEGMENT.test(path)) return undefined;
    const found = this.matchPlain(method, path);
    if (found !== undefined) {
      let byPath = this.cache.get(method);
      if (byPath === undefined) {
        byPath = new Map();
        this.cache.set(method, byPath);
      }
      if (byPath.size >= 1024) byPath.clear();
      byPath.set(path, found);
    }
    return found;
  }

  private matchPlain(method: string, path: string): TableMatch | undefined {
    const routes = this.byMethod.get(method);
    if (routes === undefined) return undefined;
    const segments = path.split('/');
    const count = segments.length - 1;
    for (const route of routes) {
      const literals = route.literals;
      if (literals.length !== count) continue;
      let i = 0;
      while (i < count) {
        const literal = literals[i];
        if (literal !== undefined && literal !== segments[i + 1]) break;
        i++;
      }
      if (i < count) continue;
      const params: Record<string, string> = {};
      for (const [name, at] of route.params) params[name] = segments[at + 1] as string;
      return { handler: route.handler, params: Object.freeze(params) };
    }
    return undefined;
  }
}

/** A route the table matched, with its (frozen, shared) path parameters. */
interface TableMatch {
  readonly handler: TableHandler;
  readonly params: Readonly<Record<string, string>>;
}

const isHttpWhitespace = (code: number) => code === 9 || code === 10 || code === 13 || code === 32;

function trimHttpWhitespace(value: string): string {
  if (!isHttpWhitespace(value.charCodeAt(0)) && !isHttpWhitespace(value.charCodeAt(value.length - 1))) return value;
  let start = 0;
  let end = value.length;
  while (start < end && isHttpWhitespace(value.charCodeAt(start))) start++;
  while (end > start && isHttpWhitespace(value.charCodeAt(end - 1))) end--;
  return value.slice(start, end);
}

const FORBIDDEN_VALUE = /[\0\r\n]/;

/**
 * A request header as node-server's `Headers` answers `get(name)` for an HTTP/1 request (Node keeps some fields
 * only once in `headers`, so this reads `rawHeaders`): every occurrence in
 * `rawHeaders`, trimmed, joined with ", " (cookies with "; "); undefined when absent. A value the Fetch API would
 * refuse throws, as materialising node-server's `Headers` does.
 */
export function rawHeader(rawHeaders: readonly string[], lowerName: string): string | undefined {
  const separator = lowerName === 'cookie' ? '; ' : ', ';
  let value: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) {
      const found = trimHttpWhitespace(rawHeaders[i + 1] as string);
      if (FORBIDDEN_VALUE.test(found)) throw new TypeError(`Invalid header value for ${lowerName}`);
      value = value === undefined ? found : value + separator + found;
    }
  }
  return value;
}

/** The first occurrence of a header (what Node keeps in `headers` for Host), untrimmed. */
function firstRawHeader(rawHeaders: readonly string[], lowerName: string): string | undefined {
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) return rawHeaders[i + 1];
  }
  return undefined;
}

const lowerNames = new Map<string, string>();
function lower(name: string): string {
  let l = lowerNames.get(name);
  if (l === undefined) {
    l = name.toLowerCase();
    if (lowerNames.size < 256) lowerNames.set(name, l);
  }
  return l;
}

const NO_BODY = { body: null } as const;

class TableRequest {
  readonly raw = NO_BODY;

  constructor(
    readonly method: string,
    readonly path: string,
    private readonly rawHeaders: readonly string[],
    private readonly params: Readonly<Record<string, string>>,
  ) {}

  header(name: string): string | undefined {
    return rawHeader(this.rawHeaders, lower(name));
  }

  /** The parameters, shared by every request for this path: frozen, as handlers only read them. */
  param(): Readonly<Record<string, string>> {
    return this.params;
  }

  query(_name: string): string | undefined {
    return undefined;
  }
}

class TableContext implements StoreContext {
  readonly env: { incoming: IncomingMessage; outgoing: ServerResponse };
  private readonly vars: StoreVariables;

  constructor(
    readonly req: TableRequest,
    incoming: IncomingMessage,
    outgoing: ServerResponse,
    deps: ResolvedDeps,
  ) {
    this.env = { incoming, outgoing };
    this.vars = { requestId: '', deps, principal: undefined, route: undefined };
  }

  get<K extends keyof StoreVariables>(key: K): StoreVariables[K] {
    return this.vars[key];
  }

  set<K extends keyof StoreVariables>(key: K, value: StoreVariables[K]): void {
    this.vars[key] = value;
  }
}

/** node-server's `trySetContentLength`: let Node write Content-Length itself when nothing says otherwise. */
function trySetContentLength(outgoing: ServerResponse, status: number, length: number): boolean {
  const http1 = outgoing as ServerResponse & {
    _contentLength: number | null;
    _hasBody: boolean;
    _removedContLen: boolean;
  };
  if (
    http1._contentLength === null &&
    http1._hasBody &&
    http1.useChunkedEncodingByDefault &&
    !http1._removedContLen &&
    status >= 200 &&
    status !== 204 &&
    status !== 304 &&
    !outgoing.hasHeader('content-length') &&
    !outgoing.hasHeader('transfer-encoding') &&
    !outgoing.hasHeader('trailer')
  ) {
    http1._contentLength = length;
    return true;
  }
  return false;
}

/** Writes a string-bodied answer with plain headers, as node-server's `responseViaCache` does. */
function send(
  outgoing: ServerResponse,
  status: number,
  body: string | null,
  headers: Readonly<Record<string, string | number>>,
): void {
  let header = headers;
  let hasContentLength = false;
  let canAutoLength = true;
  for (const key in header) {
    if (key.length === 14 && key.toLowerCase() === 'content-length') {
      hasContentLength = true;
      break;
    }
    if (
      (key.length === 17 && key.toLowerCase() === 'transfer-encoding') ||
      (key.length === 7 && key.toLowerCase() === 'trailer')
    )
      canAutoLength = false;
  }
  if (!hasContentLength && body !== null) {
    const length = Buffer.byteLength(body);
    if (!canAutoLength || !trySetContentLength(outgoing, status, length))
      header = { ...header, 'Content-Length': length };
  }
  outgoing.writeHead(status, header);
  if (body === null) outgoing.end();
  else outgoing.end(body);
}

/** Writes any other `Response` (none of the app's handlers makes one; kept for safety). */
async function sendResponse(outgoing: ServerResponse, res: Response): Promise<void> {
  const headers: Record<string, string> = {};
  res.headers.forEach((value, key) => {
    headers[key] = value;
  });
  const body = res.body === null ? null : await res.text();
  if (body !== null && headers['content-type'] === undefined) headers['content-type'] = 'text/plain; charset=UTF-8';
  send(outgoing, res.status, body, headers);
}

const DRAIN_TIMEOUT_MS = 500;
const MAX_DRAIN_BYTES = 64 * 1024 * 1024;
const draining = Symbol('greentic.store-server.draining');

/** node-server's `drainIncoming`: read and drop what is left of a body the handler did not read. */
function drainIncoming(incoming: IncomingMessage & { [draining]?: boolean }): void {
  if (incoming.destroyed || incoming[draining]) return;
  incoming[draining] = true;
  let bytesRead = 0;
  const cleanup = () => {
    clearTimeout(timer);
    incoming.off('data', onData);
    incoming.off('end', cleanup);
    incoming.off('error', cleanup);
  };
  const forceClose = () => {
    cleanup();
    const socket = incoming.socket;
    if (socket && !socket.destroyed) {
      if (typeof socket.destroySoon === 'function') socket.destroySoon();
      else socket.destroy();
    }
  };
  const timer = setTimeout(forceClose, DRAIN_TIMEOUT_MS);
  timer.unref?.();
  const onData = (chunk: Buffer) => {
    bytesRead += chunk.length;
    if (bytesRead > MAX_DRAIN_BYTES) forceClose();
  };
  incoming.on('data', onData);
  incoming.on('end', cleanup);
  incoming.on('error', cleanup);
  incoming.resume();
}

async function answer(
  handler: TableHandler,
  c: TableContext,
  outgoing: ServerResponse,
  onError: TableRoutes['onError'],
): Promise<void> {
  let res: Response;
  try {
    res = await handler(c);
  } catch (error) {
    // The wrapped handlers answer their own errors; what escapes them gets the app's onError answer, as in Hono,
    // and when that fails too, node-server's empty 500.
    try {
      res = onError(c, error);
    } catch {
      outgoing.writeHead(500);
      outgoing.end();
      return;
    }
  }
  try {
    const built = builtHeaders(res) === undefined ? undefined : builtReply(res);
    if (built !== undefined) send(outgoing, built.status, built.body, built.headers);
    else await sendResponse(outgoing, res);
  } catch (error) {
    console.error(error);
    if (!outgoing.headersSent) outgoing.writeHead(500, { 'Content-Type': 'text/plain' });
    outgoing.end(`Error: ${error instanceof Error ? error.message : String(error)}`);
    outgoing.destroy(error instanceof Error ? error : undefined);
  }
}

/**
 * A node request listener: requests the table takes are answered by their handler directly, all others by
 * `fallback` (node-server over Hono).
 *
 * @example
 * const routes = routeTableOf(app);
 * const listener = routes ? tableListener(routes, getRequestListener(app.fetch)) : getRequestListener(app.fetch);
 */
export function tableListener(
  routes: TableRoutes,
  fallback: (incoming: IncomingMessage, outgoing: ServerResponse) => unknown,
): (incoming: IncomingMessage, outgoing: ServerResponse) => unknown {
  const { table, deps, onError } = routes;
  return (incoming, outgoing) => {
    const method = incoming.method ?? '';
    const hit = table.match(method, incoming.url ?? '');
    if (hit === undefined) return fallback(incoming, outgoing);
    const rawHeaders = incoming.rawHeaders;
    const host = firstRawHeader(rawHeaders, 'host');
    if (
      host === undefined ||
      !PLAIN_HOST.test(host) ||
      firstRawHeader(rawHeaders, 'transfer-encoding') !== undefined ||
      incoming.httpVersionMajor >= 2
    ) {
      return fallback(incoming, outgoing);
    }
    const c = new TableContext(
      new TableRequest(method, incoming.url as string, rawHeaders, hit.params),
      incoming,
      outgoing,
      deps,
    );
    if (method !== 'GET') {
      // node-server's close handler: a body the handler left unread is drained once the answer is out.
      outgoing.once('close', () => {
        if (!incoming.readableEnded)
          setTimeout(() => {
            if (!incoming.readableEnded) setTimeout(() => drainIncoming(incoming));
          });
      });
    }
    return answer(hit.handler, c, outgoing, onError);
  };
}
