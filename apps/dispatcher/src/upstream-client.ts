import net from 'node:net';
import type { Readable } from 'node:stream';
import tls from 'node:tls';

// The dispatcher's HTTP/1.1 client to its upstreams: per-origin pools of keep-alive connections, one request at a
// time per connection, a strict incremental response parser, and one coarse timer per client. It exists because
// it costs about a third less CPU per proxied request than undici on this workload (README: "Why not undici"); its
// API keeps the shape of undici's `dispatch(options, handler)` so the proxy code reads the same.

/** Why an upstream exchange failed. The `*_TIMEOUT` codes mean "too slow" (504); the rest "unavailable" (502). */
export type UpstreamErrorCode =
  | 'UPSTREAM_CONNECT_TIMEOUT' // no TCP (or TLS) connection within connectTimeout
  | 'UPSTREAM_QUEUE_TIMEOUT' // every connection stayed busy for queueTimeout: the request was never sent
  | 'UPSTREAM_HEADERS_TIMEOUT' // no complete response head within headersTimeout
  | 'UPSTREAM_BODY_TIMEOUT' // no body bytes for bodyTimeout
  | 'UPSTREAM_CONNECT_FAILED' // refused, unreachable, name not found (the cause says which)
  | 'UPSTREAM_SOCKET' // the connection broke (reset, broken pipe) during the exchange
  | 'UPSTREAM_CLOSED' // the upstream closed the connection before the response ended
  | 'UPSTREAM_PROTOCOL' // a malformed response (status line, field, framing, chunk) or one too large
  | 'UPSTREAM_REQUEST_INVALID' // the request cannot be written safely (a CR, LF or NUL in a field, a bad origin)
  | 'UPSTREAM_REQUEST_BODY' // the request body stream failed or did not match its Content-Length
  | 'UPSTREAM_CLIENT_CLOSED'; // the client was closed before the request could start

/** An upstream exchange failure. `reason` is the system error code behind it (`ECONNREFUSED`) when there is one. */
export class UpstreamError extends Error {
  override readonly name = 'UpstreamError';
  readonly code: UpstreamErrorCode;

  constructor(code: UpstreamErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }

  /** The system error code of the cause (ECONNREFUSED, ECONNRESET, …), else this error's own code. */
  get reason(): string {
    const cause = this.cause as { code?: unknown } | undefined;
    return typeof cause?.code === 'string' ? cause.code : this.code;
  }

  /** True for the timeouts (the upstream was too slow rather than unreachable or broken). */
  get isTimeout(): boolean {
    return (
      this.code === 'UPSTREAM_CONNECT_TIMEOUT' ||
      this.code === 'UPSTREAM_QUEUE_TIMEOUT' ||
      this.code === 'UPSTREAM_HEADERS_TIMEOUT' ||
      this.code === 'UPSTREAM_BODY_TIMEOUT'
    );
  }
}

/** Response header fields: lowercase names; a field sent more than once is an array, in order. */
export type UpstreamHeaders = Record<string, string | string[]>;

/** One request: `origin` is `http(s)://host:port`, `headers` a flat `[name, value, …]` list. */
export interface UpstreamRequest {
  readonly origin: string;
  readonly path: string;
  readonly method: string;
  readonly headers: readonly string[];
  /** The request body, streamed with backpressure; with a Content-Length field it must have exactly that size. */
  readonly body: Readable | null;
}

/** Handed to every handler call: flow control and cancellation of one exchange. */
export interface UpstreamController {
  /** Stop reading the response (the TCP window closes); the body timeout does not run while paused. */
  pause(): void;
  resume(): void;
  /** End the exchange now: the connection is destroyed and `onResponseError(reason)` is called. */
  abort(reason: Error): void;
  readonly paused: boolean;
  readonly aborted: boolean;
}

/** The callbacks of one exchange (undici's dispatch handler shape). Exactly one of End / Error ends it. */
export interface UpstreamHandler {
  /** Called synchronously by `dispatch`, before anything is sent. */
  onRequestStart?(controller: UpstreamController): void;
  /** The final (non-1xx) response head. */
  onResponseStart(controller: UpstreamController, statusCode: number, headers: UpstreamHeaders): void;
  /**
   * A piece of the decoded body (chunked framing removed). It is a view of the client's read buffer, valid only
   * until this call returns: copy it (`Buffer.from(chunk)`) to keep it or to hand it to a stream write.
   */
  onResponseData(controller: UpstreamController, chunk: Buffer): void;
  onResponseEnd(controller: UpstreamController, trailers: UpstreamHeaders): void;
  onResponseError(controller: UpstreamController, err: Error): void;
}

export interface UpstreamClientOptions {
  /** Connections per origin (default 128); further requests wait in order, at most `queueTimeout`. */
  readonly connections?: number;
  /** Close a connection idle for this long, in ms (default 30000); an upstream's `Keep-Alive: timeout=` if lower. */
  readonly keepAliveTimeout?: number;
  /** Time to establish a connection, in ms (default 5000). */
  readonly connectTimeout?: number;
  /** Time from writing the request (or its last body chunk) to the complete response head, in ms (default 30000). */
  readonly headersTimeout?: number;
  /** Time allowed between response body chunks, in ms (default 30000). */
  readonly bodyTimeout?: number;
  /**
   * Longest wait for a free connection when all `connections` are busy, in ms (default: `headersTimeout`). A request
   * that waits longer fails with `UPSTREAM_QUEUE_TIMEOUT` and is never sent.
   */
  readonly queueTimeout?: number;
  /** Largest response head, and largest trailer section, in bytes (default 64 KiB). */
  readonly maxHeaderSize?: number;
  /** Extra TLS options for `https:` origins (e.g. `ca`); certificates are verified unless told otherwise. */
  readonly tls?: tls.ConnectionOptions;
}

// RFC 9110 §5.6.2 token: field names and methods.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// What a field value we send may hold: HTAB, visible ASCII, SP, obs-text. No CR, LF, NUL or other control.
const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
// A request target: visible ASCII and obs-text (node:http hands raw bytes as latin1), no SP, no controls.
const INVALID_TARGET = /[^\x21-\x7e\x80-\xff]/;
// Anywhere in a response head: a control character other than HTAB, or a CR or LF that is not part of CRLF.
const INVALID_HEAD = /[^\t\r\n\x20-\x7e\x80-\xff]|\r(?!\n)|(?<!\r)\n/;
// After the hex size of a chunk: optional whitespace and extensions without controls.
const CHUNK_EXTENSION = /^[ \t]*(?:;[\t\x20-\x7e\x80-\xff]*)?$/;
const DIGITS = /^\d{1,15}$/;
// RFC 9110 §9.2.2: the methods a client may send again after a connection failure.
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
const KEEP_ALIVE_TIMEOUT = /(?:^|[,;\s])timeout\s*=\s*(\d+)/i;
const CRLF2 = Buffer.from('\r\n\r\n', 'latin1');
const CR = 13;
const LF = 10;

// Exchange states.
const QUEUED = 0;
const ACTIVE = 1;
const DONE = 2;

// Response parser states.
const P_HEAD = 0;
const P_SIZED = 1;
const P_CHUNK_SIZE = 2;
const P_CHUNK_DATA = 3;
const P_CHUNK_CR = 4;
const P_CHUNK_LF = 5;
const P_TRAILERS = 6;
const P_UNTIL_CLOSE = 7;
const P_IDLE = 8;

// Timer kinds (what the shared tick checks on a connection).
const T_NONE = 0;
const T_CONNECT = 1;
const T_HEADERS = 2;
const T_BODY = 3;
const T_IDLE = 4;

// Request body framing.
const B_NONE = 0;
const B_SIZED = 1;
const B_CHUNKED = 2;

/**
 * A field map with no inherited names: a field called `constructor` or `toString` is a field like any other. (A
 * class whose prototype has a null prototype keeps V8's fast properties, unlike `Object.create(null)`.)
 */
function NullFields(): void {}
NullFields.prototype = Object.create(null);
const Fields = NullFields as unknown as { new (): UpstreamHeaders };

/** Where a request body stream keeps its exchange, so one set of shared listeners serves every body. */
const EXCHANGE = Symbol('greentic.upstream.exchange');
type BodyStream = Readable & { [EXCHANGE]?: Exchange | undefined };

function protocolError(message: string): UpstreamError {
  return new UpstreamError('UPSTREAM_PROTOCOL', `malformed upstream response: ${message}`);
}

/**
 * An HTTP/1.1 client for the dispatcher's upstreams.
 *
 * @example
 * const client = new UpstreamClient({ connections: 128 });
 * client.dispatch({ origin: 'http://127.0.0.1:8080', path: '/', method: 'GET', headers: [], body: null }, handler);
 * await client.close();
 */
export class UpstreamClient {
  readonly connections: number;
  readonly keepAliveTimeout: number;
  readonly connectTimeout: number;
  readonly headersTimeout: number;
  readonly bodyTimeout: number;
  readonly queueTimeout: number;
  readonly maxHeaderSize: number;
  readonly tlsOptions: tls.ConnectionOptions | undefined;
  /** The coarse clock (ms), advanced by the tick; activity stamps read it instead of calling Date.now(). */
  now = Date.now();
  /** The tick period in ms: a timeout fires between its limit and its limit + 2 ticks. */
  readonly tickMs: number;
  /**
   * The one buffer every plain-TCP connection reads into (net's `onread`): no stream machinery and no allocation
   * per read. Safe to share: each read is parsed to the end before the next one lands, and whatever outlives the
   * read (a paused remainder, a partial head) is copied out.
   */
  readonly readBuffer = Buffer.allocUnsafe(64 * 1024);
  closed = false;
  private readonly pools = new Map<string, Pool>();
  private readonly timer: NodeJS.Timeout;
  private closeWaiters: (() => void)[] = [];

  constructor(options: UpstreamClientOptions = {}) {
    this.connections = Math.max(1, options.connections ?? 128);
    this.keepAliveTimeout = options.keepAliveTimeout ?? 30_000;
    this.connectTimeout = options.connectTimeout ?? 5_000;
    this.headersTimeout = options.headersTimeout ?? 30_000;
    this.bodyTimeout = options.bodyTimeout ?? 30_000;
    this.queueTimeout = options.queueTimeout ?? this.headersTimeout;
    this.maxHeaderSize = options.maxHeaderSize ?? 64 * 1024;
    this.tlsOptions = options.tls;
    const shortest = Math.min(
      this.connectTimeout,
      this.headersTimeout,
      this.bodyTimeout,
      this.queueTimeout,
      this.keepAliveTimeout,
    );
    this.tickMs = Math.max(10, Math.min(500, Math.floor(shortest / 4)));
    this.timer = setInterval(() => this.tick(), this.tickMs);
    this.timer.unref();
  }

  /**
   * Send one request; the handler hears the response (or the error). Never throws: a request that cannot be sent
   * ends with `onResponseError` before `dispatch` returns.
   */
  dispatch(request: UpstreamRequest, handler: UpstreamHandler): void {
    const exchange = new Exchange(handler, request.method, request.body);
    handler.onRequestStart?.(exchange);
    if (exchange.state === DONE) return; // aborted in onRequestStart
    if (this.closed) {
      exchange.finish(new UpstreamError('UPSTREAM_CLIENT_CLOSED', 'the upstream client is closed'));
      return;
    }
    let pool = this.pools.get(request.origin);
    if (pool === undefined) {
      const created = Pool.create(this, request.origin);
      if (created instanceof UpstreamError) {
        exchange.finish(created);
        return;
      }
      pool = created;
      this.pools.set(request.origin, pool);
    }
    const invalid = exchange.serialize(request, pool.hostHeader);
    if (invalid !== undefined) {
      exchange.finish(invalid);
      return;
    }
    pool.enqueue(exchange);
  }

  /** Stop: requests still waiting fail, idle connections close now, busy ones when their exchange ends. */
  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      for (const pool of this.pools.values()) pool.close();
    }
    return new Promise<void>((resolve) => {
      this.closeWaiters.push(resolve);
      this.checkClosed();
    });
  }

  /** The number of open (or opening) connections to `origin`, and how many of them are idle. */
  stats(origin: string): { connections: number; idle: number; queued: number } {
    const pool = this.pools.get(origin);
    return pool === undefined
      ? { connections: 0, idle: 0, queued: 0 }
      : { connections: pool.conns.size, idle: pool.idle.length, queued: pool.queued() };
  }

  /** @internal a pool with no connection and no waiting request is dropped (a new request makes a new one). */
  forget(pool: Pool): void {
    if (this.pools.get(pool.origin) === pool && pool.queued() === 0) this.pools.delete(pool.origin);
  }

  /** @internal a pool lost a connection: when closing and none are left, resolve `close()`. */
  checkClosed(): void {
    if (!this.closed) return;
    for (const pool of this.pools.values()) if (pool.conns.size > 0) return;
    clearInterval(this.timer);
    const waiters = this.closeWaiters;
    this.closeWaiters = [];
    for (const w of waiters) w();
  }

  private tick(): void {
    const now = Date.now();
    this.now = now;
    for (const pool of this.pools.values()) {
      for (const conn of pool.conns) if (conn.timerKind !== T_NONE) conn.checkTimer(now);
      pool.expireQueued(now);
    }
  }
}

/** The connections to one origin. */
class Pool {
  readonly conns = new Set<Connection>();
  /** Idle connections, most recently used last (reused first, so the others age out). */
  readonly idle: Connection[] = [];
  private queue: Exchange[] = [];
  private queueHead = 0;

  private constructor(
    readonly client: UpstreamClient,
    readonly origin: string,
    readonly host: string,
    readonly port: number,
    readonly secure: boolean,
    readonly hostHeader: string,
  ) {}

  static create(client: UpstreamClient, origin: string): Pool | UpstreamError {
    let url: URL;
    try {
      url = new URL(origin);
    } catch (cause) {
      return new UpstreamError('UPSTREAM_REQUEST_INVALID', `"${origin}" is not an origin URL`, { cause });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      return new UpstreamError('UPSTREAM_REQUEST_INVALID', `"${origin}": only http: and https: origins are served`);
    }
    const secure = url.protocol === 'https:';
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const port = url.port === '' ? (secure ? 443 : 80) : Number(url.port);
    return new Pool(client, origin, host, port, secure, url.host);
  }

  queued(): number {
    let n = 0;
    for (let i = this.queueHead; i < this.queue.length; i++) if (this.queue[i]!.state === QUEUED) n++;
    return n;
  }

  enqueue(exchange: Exchange): void {
    let idle = this.idle.pop();
    while (idle !== undefined && !idle.socket.writable) {
      // Closed under us, its close event not handled yet.
      idle.destroy();
      idle = this.idle.pop();
    }
    if (idle !== undefined) {
      idle.assign(exchange);
      return;
    }
    if (this.conns.size < this.client.connections) {
      this.open(exchange);
      return;
    }
    exchange.queuedAt = this.client.now;
    this.queue.push(exchange);
  }

  /**
   * Fail the requests that waited longer than the queue timeout for a connection (oldest first: the queue is in
   * arrival order). Like the other timers it waits a tick more than its limit, so it never fires early.
   */
  expireQueued(now: number): void {
    const client = this.client;
    const limit = client.queueTimeout + client.tickMs;
    for (let i = this.queueHead; i < this.queue.length; i++) {
      const e = this.queue[i]!;
      if (e.state !== QUEUED) continue;
      if (now - e.queuedAt < limit) return;
      e.finish(
        new UpstreamError(
          'UPSTREAM_QUEUE_TIMEOUT',
          `no free connection to ${this.hostHeader} within ${client.queueTimeout} ms (all ${client.connections} busy)`,
        ),
      );
    }
  }

  /** A fresh connection for `exchange` (a retry, or no idle connection and room for one more). */
  open(exchange: Exchange | null): void {
    const conn = new Connection(this, exchange);
    this.conns.add(conn);
    if (exchange !== null) exchange.conn = conn;
  }

  private nextQueued(): Exchange | undefined {
    while (this.queueHead < this.queue.length) {
      const e = this.queue[this.queueHead]!;
      this.queue[this.queueHead++] = undefined as unknown as Exchange;
      if (this.queueHead === this.queue.length) {
        this.queue = [];
        this.queueHead = 0;
      }
      if (e.state === QUEUED) return e;
    }
    return undefined;
  }

  /** `conn` is free and reusable: serve the oldest waiting request, else keep it idle. */
  release(conn: Connection): void {
    if (this.client.closed) {
      conn.destroy();
      return;
    }
    const next = this.nextQueued();
    if (next !== undefined) {
      conn.assign(next);
      return;
    }
    conn.goIdle();
    this.idle.push(conn);
  }

  /** `conn` is gone: forget it, and open a replacement if requests are waiting. */
  remove(conn: Connection): void {
    if (!this.conns.delete(conn)) return;
    const i = this.idle.lastIndexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
    if (this.client.closed) {
      this.client.checkClosed();
      return;
    }
    if (this.conns.size < this.client.connections) {
      const next = this.nextQueued();
      if (next !== undefined) this.open(next);
    }
    // Endpoints come and go with revisions: forget an origin with nothing left.
    if (this.conns.size === 0) this.client.forget(this);
  }

  close(): void {
    const closed = new UpstreamError('UPSTREAM_CLIENT_CLOSED', 'the upstream client was closed');
    for (let e = this.nextQueued(); e !== undefined; e = this.nextQueued()) e.finish(closed);
    for (const conn of [...this.conns]) {
      const waiting = conn.waiting;
      if (conn.req === null) {
        conn.waiting = null;
        conn.destroy();
        if (waiting !== null && waiting.state === QUEUED) waiting.finish(closed);
      }
    }
  }
}

/** One request and its response, and the controller its handler holds. */
class Exchange implements UpstreamController {
  state = QUEUED;
  paused = false;
  conn: Connection | null = null;
  /** The request head, serialized once (latin1). */
  head = '';
  bodyMode = B_NONE;
  bodyLength = 0;
  bodyBytes = 0;
  bodyDone = true;
  /** Waiting for the socket to drain before reading more of the request body. */
  bodyWaiting = false;
  retried = false;
  /** When it joined its pool's queue (the client's coarse clock), for the queue timeout. */
  queuedAt = 0;
  readonly expectBody: boolean;

  constructor(
    readonly handler: UpstreamHandler,
    readonly method: string,
    readonly body: Readable | null,
  ) {
    this.expectBody = method !== 'HEAD';
  }

  get aborted(): boolean {
    return this.state === DONE;
  }

  /** The request head, or why it cannot be sent. */
  serialize(request: UpstreamRequest, hostHeader: string): UpstreamError | undefined {
    const { method, path, headers } = request;
    if (!TOKEN.test(method)) return invalidRequest(`method "${method}" is not a token`);
    if (path.length === 0 || INVALID_TARGET.test(path)) return invalidRequest('the request target has SP or controls');
    let head = `${method} ${path} HTTP/1.1\r\n`;
    let host: string | undefined;
    let contentLength = -1;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      const value = headers[i + 1] ?? '';
      if (!TOKEN.test(name)) return invalidRequest(`field name "${name}" is not a token`);
      if (INVALID_VALUE.test(value)) return invalidRequest(`field ${name} has a CR, LF, NUL or other control`);
      const n = name.length;
      if (n === 4 || n === 14 || n === 17) {
        const lower = name.toLowerCase();
        if (lower === 'host') {
          host = value;
          continue;
        }
        if (lower === 'content-length') {
          if (!DIGITS.test(value) || contentLength !== -1) return invalidRequest(`Content-Length "${value}"`);
          contentLength = Number(value);
        } else if (lower === 'transfer-encoding') {
          continue; // this client frames the body itself
        }
      }
      head += `${name}: ${value}\r\n`;
    }
    head = `${head}host: ${host ?? hostHeader}\r\n`;
    const body = request.body;
    if (body !== null) {
      this.bodyDone = false;
      if (contentLength >= 0) {
        this.bodyMode = B_SIZED;
        this.bodyLength = contentLength;
      } else {
        this.bodyMode = B_CHUNKED;
        head += 'transfer-encoding: chunked\r\n';
      }
    } else if (contentLength > 0) {
      return invalidRequest(`Content-Length ${contentLength} without a body`);
    }
    this.head = `${head}\r\n`;
    return undefined;
  }

  pause(): void {
    if (this.state !== ACTIVE || this.paused) return;
    this.paused = true;
    this.conn?.pauseReading();
  }

  resume(): void {
    if (this.state !== ACTIVE || !this.paused) return;
    this.paused = false;
    this.conn?.resumeReading();
  }

  abort(reason: Error): void {
    if (this.state === DONE) return;
    const conn = this.conn;
    if (conn !== null) {
      if (conn.waiting === this)
        conn.waiting = null; // the connection opens anyway and serves the next request
      else if (conn.req === this) {
        conn.req = null;
        conn.destroy();
      }
    }
    this.finish(reason);
  }

  /** End with an error (once): the handler hears it, the body stream is let go. */
  finish(err: Error): void {
    if (this.state === DONE) return;
    this.state = DONE;
    this.conn = null;
    this.detachBody();
    this.handler.onResponseError(this, err);
  }

  /** Start sending on `conn`. */
  start(conn: Connection): void {
    this.state = ACTIVE;
    this.conn = conn;
    const socket = conn.socket;
    socket.write(this.head, 'latin1');
    const body = this.body as BodyStream | null;
    if (body === null) return;
    if (this.bodyDone) {
      // A retry of a request whose (empty) body stream had ended already: only its framing is left to send.
      if (this.bodyMode === B_CHUNKED) socket.write('0\r\n\r\n', 'latin1');
      return;
    }
    body[EXCHANGE] = this;
    body.on('data', onBodyData);
    body.on('end', onBodyEnd);
    body.on('error', onBodyError);
    body.on('close', onBodyClose);
    body.resume();
  }

  writeBody(data: Buffer | string): void {
    const conn = this.conn;
    if (conn === null || this.state !== ACTIVE) return;
    const chunk = typeof data === 'string' ? Buffer.from(data) : data;
    if (chunk.length === 0) return; // an empty chunk would end a chunked body
    this.bodyBytes += chunk.length;
    conn.touch();
    if (this.bodyMode === B_SIZED && this.bodyBytes > this.bodyLength) {
      this.bodyFailed(new Error(`the request body is longer than its Content-Length ${this.bodyLength}`));
      return;
    }
    const socket = conn.socket;
    let ok: boolean;
    if (this.bodyMode === B_CHUNKED) {
      socket.cork();
      socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
      socket.write(chunk);
      ok = socket.write('\r\n', 'latin1');
      socket.uncork();
    } else {
      ok = socket.write(chunk);
    }
    if (!ok) {
      this.bodyWaiting = true;
      this.body!.pause();
    }
  }

  endBody(): void {
    const conn = this.conn;
    if (conn === null || this.state !== ACTIVE) return;
    if (this.bodyMode === B_SIZED && this.bodyBytes !== this.bodyLength) {
      this.bodyFailed(new Error(`the request body ended after ${this.bodyBytes} of ${this.bodyLength} bytes`));
      return;
    }
    if (this.bodyMode === B_CHUNKED) conn.socket.write('0\r\n\r\n', 'latin1');
    this.bodyDone = true;
    this.detachBody();
    conn.touch();
  }

  bodyFailed(cause: Error): void {
    if (this.state === DONE) return;
    this.abort(new UpstreamError('UPSTREAM_REQUEST_BODY', `request body: ${cause.message}`, { cause }));
  }

  /** The socket drained: read more of the request body. */
  onDrain(): void {
    if (this.bodyWaiting) {
      this.bodyWaiting = false;
      this.body!.resume();
    }
  }

  /**
   * Stop listening to the request body. Unless `keep` (a retry sends it later), what is left of an unfinished body
   * is read and dropped, as node:http does for a body nobody reads, so the client can finish sending it and read
   * the answer it already has (an early answer, a 502).
   */
  detachBody(keep = false): void {
    const body = this.body as BodyStream | null;
    if (body === null || body[EXCHANGE] !== this) return;
    body[EXCHANGE] = undefined;
    body.off('data', onBodyData);
    body.off('end', onBodyEnd);
    body.off('error', onBodyError);
    body.off('close', onBodyClose);
    this.bodyWaiting = false;
    if (keep) body.pause();
    else if (!this.bodyDone && !body.destroyed) body.resume();
  }

  /**
   * May this exchange be sent again on a fresh connection? Once only, only for an idempotent method (RFC 9110
   * §9.2.2: the upstream may have applied a POST before its connection broke, and nothing here can tell), and only
   * when no byte of its body has been read from the stream (so the whole request can be sent again). The caller
   * checks that no response byte came.
   */
  retryable(): boolean {
    return !this.retried && this.bodyBytes === 0 && IDEMPOTENT.has(this.method);
  }
}

function invalidRequest(message: string): UpstreamError {
  return new UpstreamError('UPSTREAM_REQUEST_INVALID', `request not sent: ${message}`);
}

function onBodyData(this: BodyStream, chunk: Buffer | string): void {
  this[EXCHANGE]?.writeBody(chunk);
}

function onBodyEnd(this: BodyStream): void {
  this[EXCHANGE]?.endBody();
}

function onBodyError(this: BodyStream, err: Error): void {
  this[EXCHANGE]?.bodyFailed(err);
}

function onBodyClose(this: BodyStream): void {
  this[EXCHANGE]?.bodyFailed(new Error('the request body stream closed before its end'));
}

/** One connection to an upstream, with its response parser. */
class Connection {
  readonly socket: net.Socket;
  /** The exchange being served. */
  req: Exchange | null = null;
  /** The exchange this connection was opened for, until it connects. */
  waiting: Exchange | null;
  connected = false;
  /** Served a response before: a failure before the first response byte may be a stale keep-alive. */
  reused = false;
  timerKind = T_CONNECT;
  timerStart: number;
  timerLimit: number;
  keepAliveMs: number;

  // Response parser.
  private pstate = P_IDLE;
  private headBuf: Buffer | null = null;
  private headLen = 0;
  private remaining = 0;
  private line = '';
  private trailerBytes = 0;
  private trailers: UpstreamHeaders | null = null;
  private gotBytes = false;
  private keepAlive = true;
  private parsing = false;
  private pending: Buffer | null = null;
  private paused = false;

  constructor(
    readonly pool: Pool,
    waiting: Exchange | null,
  ) {
    this.waiting = waiting;
    const client = pool.client;
    this.keepAliveMs = client.keepAliveTimeout;
    this.timerStart = client.now;
    this.timerLimit = client.connectTimeout;
    const socket = pool.secure
      ? tls.connect({
          host: pool.host,
          port: pool.port,
          ALPNProtocols: ['http/1.1'],
          ...(net.isIP(pool.host) === 0 ? { servername: pool.host } : {}),
          ...client.tlsOptions,
        })
      : net.connect({
          host: pool.host,
          port: pool.port,
          onread: { buffer: client.readBuffer, callback: this.onRead },
        });
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on(pool.secure ? 'secureConnect' : 'connect', this.onConnect);
    if (pool.secure) socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    socket.on('drain', this.onDrain);
  }

  private onConnect = (): void => {
    this.connected = true;
    this.socket.setKeepAlive(true, 60_000);
    this.timerKind = T_NONE;
    const waiting = this.waiting;
    this.waiting = null;
    if (waiting !== null && waiting.state === QUEUED) this.assign(waiting);
    else this.pool.release(this);
  };

  assign(exchange: Exchange): void {
    this.req = exchange;
    this.pstate = P_HEAD;
    this.headLen = 0;
    this.gotBytes = false;
    this.keepAlive = true;
    this.paused = false;
    this.trailers = null;
    this.timerKind = T_HEADERS;
    this.timerLimit = this.pool.client.headersTimeout;
    this.timerStart = this.pool.client.now;
    exchange.start(this);
  }

  goIdle(): void {
    this.req = null;
    this.pstate = P_IDLE;
    this.timerKind = T_IDLE;
    this.timerLimit = this.keepAliveMs;
    this.timerStart = this.pool.client.now;
  }

  /** Activity: restart the headers or body timer. */
  touch(): void {
    this.timerStart = this.pool.client.now;
  }

  checkTimer(now: number): void {
    const elapsed = now - this.timerStart;
    if (this.timerKind === T_IDLE) {
      // The stamp is up to a tick old: closing an idle connection a little early is harmless.
      if (elapsed >= this.timerLimit) this.destroy();
      return;
    }
    // The stamp is up to a tick old: wait a tick more so that a timeout never fires before its limit.
    if (elapsed < this.timerLimit + this.pool.client.tickMs) return;
    const client = this.pool.client;
    if (this.timerKind === T_CONNECT) {
      this.failConnect(
        new UpstreamError(
          'UPSTREAM_CONNECT_TIMEOUT',
          `no connection to ${this.pool.hostHeader} within ${client.connectTimeout} ms`,
        ),
      );
    } else if (this.timerKind === T_HEADERS) {
      this.fail(new UpstreamError('UPSTREAM_HEADERS_TIMEOUT', `no response head within ${client.headersTimeout} ms`));
    } else {
      this.fail(new UpstreamError('UPSTREAM_BODY_TIMEOUT', `no response body bytes for ${client.bodyTimeout} ms`));
    }
  }

  pauseReading(): void {
    this.paused = true;
    this.timerKind = T_NONE; // a slow reader is not a slow upstream
    this.socket.pause();
  }

  resumeReading(): void {
    this.paused = false;
    if (this.req === null) return;
    this.timerKind = T_BODY;
    this.timerLimit = this.pool.client.bodyTimeout;
    this.timerStart = this.pool.client.now;
    if (this.parsing) return; // resumed from inside a handler call: the parse loop goes on by itself
    const pending = this.pending;
    if (pending !== null) {
      this.pending = null;
      this.onData(pending);
    }
    if (!this.paused && this.req !== null) this.socket.resume();
  }

  /** Tear down (once): the socket is destroyed, the pool forgets it. The exchange, if any, is not told. */
  destroy(): void {
    this.timerKind = T_NONE;
    this.req = null;
    this.pstate = P_IDLE;
    this.pending = null;
    if (!this.socket.destroyed) this.socket.destroy();
    this.pool.remove(this);
  }

  /** The connection could not be made: it goes, and the exchange it was opened for (if still waiting) fails. */
  private failConnect(err: UpstreamError): void {
    const waiting = this.waiting;
    this.waiting = null;
    this.destroy();
    waiting?.finish(err);
  }

  /** The exchange fails with `err` and the connection is not reused. */
  fail(err: Error): void {
    const req = this.req;
    this.destroy();
    req?.finish(err);
  }

  private onDrain = (): void => {
    this.req?.onDrain();
  };

  private onError = (err: Error & { code?: string }): void => {
    this.socketGone(err);
  };

  private onEnd = (): void => {
    const req = this.req;
    // A body delimited by the close: this is its end. (A paused socket emits no end before its data.)
    if (req !== null && this.pstate === P_UNTIL_CLOSE) this.complete(req, false);
    else this.socketGone(null);
  };

  private onClose = (): void => {
    this.socketGone(null);
  };

  /** The socket ended, failed or closed. */
  private socketGone(err: (Error & { code?: string }) | null): void {
    if (!this.connected) {
      this.failConnect(
        new UpstreamError(
          'UPSTREAM_CONNECT_FAILED',
          `cannot connect to ${this.pool.hostHeader}: ${err?.message ?? 'closed while connecting'}`,
          { cause: err ?? undefined },
        ),
      );
      return;
    }
    const req = this.req;
    if (req === null) {
      this.destroy(); // an idle connection closed by the upstream
      return;
    }
    const code = err?.code;
    const stale = err === null || code === 'ECONNRESET' || code === 'EPIPE';
    if (stale && this.reused && !this.gotBytes && req.retryable()) {
      // The upstream closed this kept-alive connection as we wrote to it: once more on a fresh one.
      this.req = null;
      req.retried = true;
      req.detachBody(true);
      req.state = QUEUED;
      this.pool.open(req); // before letting this one go, so the retry comes before any waiting request
      this.destroy();
      return;
    }
    this.fail(
      err === null
        ? new UpstreamError(
            'UPSTREAM_CLOSED',
            this.gotBytes
              ? 'the upstream closed the connection before the response ended'
              : 'the upstream closed the connection without a response',
          )
        : new UpstreamError('UPSTREAM_SOCKET', `upstream connection: ${err.message}`, { cause: err }),
    );
  }

  /** A read into the shared buffer; false pauses the socket (the handler paused). */
  private onRead = (length: number, buffer: Buffer): boolean => {
    this.onData(buffer.subarray(0, length));
    return !this.paused;
  };

  private onData = (chunk: Buffer): void => {
    const req = this.req;
    if (req === null) {
      this.destroy(); // bytes nobody asked for: the connection cannot be trusted
      return;
    }
    this.gotBytes = true;
    this.parsing = true;
    try {
      this.parse(req, chunk);
    } catch (err) {
      if (this.req === req) this.fail(err instanceof Error ? err : new Error(String(err)));
    } finally {
      this.parsing = false;
    }
  };

  /** Feed `buf` to the parser for `req`; stops when the exchange ends or is paused (the rest kept as `pending`). */
  private parse(req: Exchange, input: Buffer): void {
    const buf = input;
    let pos = 0;
    const handler = req.handler;
    while (this.req === req) {
      if (this.paused) {
        // The handler paused (the socket is paused too): keep the rest of this read for resume().
        this.pending = pos < buf.length ? Buffer.from(buf.subarray(pos)) : null; // a copy: the read buffer is reused
        return;
      }
      const state = this.pstate;
      if (state === P_HEAD) {
        if (pos >= buf.length) return;
        const max = this.pool.client.maxHeaderSize;
        let head: string;
        if (this.headLen === 0) {
          const end = buf.indexOf(CRLF2, pos);
          if (end < 0) {
            if (buf.length - pos >= max + 4) throw protocolError('the response head is too large');
            checkPartialHead(buf, pos, pos);
            this.appendHead(buf, pos);
            return;
          }
          if (end - pos > max) throw protocolError('the response head is too large');
          head = buf.toString('latin1', pos, end);
          pos = end + 4;
        } else {
          // The head began in an earlier read: join, then look for its end from just before the join.
          const had = this.headLen;
          this.appendHead(buf, pos);
          const joined = this.headBuf!.subarray(0, this.headLen);
          const end = joined.indexOf(CRLF2, had > 3 ? had - 3 : 0);
          if (end < 0) {
            if (this.headLen >= max + 4) throw protocolError('the response head is too large');
            checkPartialHead(joined, 0, had);
            return;
          }
          if (end > max) throw protocolError('the response head is too large');
          head = joined.toString('latin1', 0, end);
          pos += end + 4 - had;
          this.headLen = 0;
        }
        if (this.onHead(req, head) && this.req === req) this.complete(req, pos < buf.length);
        continue;
      }
      if (state === P_SIZED) {
        const avail = buf.length - pos;
        if (avail === 0) return;
        const n = Math.min(avail, this.remaining);
        const piece = pos === 0 && n === buf.length ? buf : buf.subarray(pos, pos + n);
        pos += n;
        this.remaining -= n;
        this.touch();
        handler.onResponseData(req, piece);
        if (this.remaining === 0 && this.req === req) this.complete(req, pos < buf.length);
        continue;
      }
      if (state === P_CHUNK_DATA) {
        const avail = buf.length - pos;
        if (avail === 0) return;
        const n = Math.min(avail, this.remaining);
        const piece = buf.subarray(pos, pos + n);
        pos += n;
        this.remaining -= n;
        if (this.remaining === 0) this.pstate = P_CHUNK_CR;
        this.touch();
        handler.onResponseData(req, piece);
        continue;
      }
      if (state === P_UNTIL_CLOSE) {
        if (pos >= buf.length) return;
        const piece = pos === 0 ? buf : buf.subarray(pos);
        pos = buf.length;
        this.touch();
        handler.onResponseData(req, piece);
        continue;
      }
      if (pos >= buf.length) return;
      if (state === P_CHUNK_CR || state === P_CHUNK_LF) {
        const want = state === P_CHUNK_CR ? CR : LF;
        if (buf[pos] !== want) throw protocolError('a chunk is not followed by CRLF');
        pos++;
        this.pstate = state === P_CHUNK_CR ? P_CHUNK_LF : P_CHUNK_SIZE;
        continue;
      }
      // A chunk-size line or a trailer line: up to LF.
      const nl = buf.indexOf(LF, pos);
      const limit = state === P_CHUNK_SIZE ? 4096 : this.pool.client.maxHeaderSize;
      if (nl < 0) {
        this.line += buf.toString('latin1', pos, buf.length);
        if (this.line.length > limit) {
          throw protocolError(state === P_CHUNK_SIZE ? 'a chunk-size line is too long' : 'the trailers are too large');
        }
        return;
      }
      let line = this.line + buf.toString('latin1', pos, nl);
      this.line = '';
      pos = nl + 1;
      if (line.length === 0 || line.charCodeAt(line.length - 1) !== CR) throw protocolError('a bare LF');
      line = line.slice(0, -1);
      if (state === P_CHUNK_SIZE) this.onChunkSize(line);
      else if (line.length === 0) this.complete(req, pos < buf.length);
      else this.onTrailer(line);
    }
  }

  /** Keep the start of a head that continues in the next read (at most the head limit, plus its CRLFCRLF). */
  private appendHead(buf: Buffer, pos: number): void {
    const cap = this.pool.client.maxHeaderSize + 4;
    const n = Math.min(buf.length - pos, cap - this.headLen);
    if (this.headBuf === null || this.headBuf.length < this.headLen + n) {
      const grown = Buffer.allocUnsafe(Math.min(cap, Math.max(4096, (this.headLen + n) * 2)));
      if (this.headBuf !== null) this.headBuf.copy(grown, 0, 0, this.headLen);
      this.headBuf = grown;
    }
    buf.copy(this.headBuf, this.headLen, pos, pos + n);
    this.headLen += n;
  }

  /** A complete response head: 1xx skipped (false), else the handler hears it; true when there is no body. */
  private onHead(req: Exchange, head: string): boolean {
    if (INVALID_HEAD.test(head)) throw protocolError('a control character, bare CR or bare LF in the head');
    let eol = head.indexOf('\r\n');
    if (eol < 0) eol = head.length;
    // status-line = HTTP-version SP status-code SP [ reason-phrase ]; the SP before an empty reason may be missing.
    const d0 = head.charCodeAt(9) - 48;
    const d1 = head.charCodeAt(10) - 48;
    const d2 = head.charCodeAt(11) - 48;
    const minor = head.charCodeAt(7) - 48;
    if (
      eol < 12 ||
      !head.startsWith('HTTP/1.') ||
      !(minor >= 0 && minor <= 9) ||
      head.charCodeAt(8) !== 32 ||
      !(d0 >= 1 && d0 <= 9 && d1 >= 0 && d1 <= 9 && d2 >= 0 && d2 <= 9) ||
      (eol > 12 && head.charCodeAt(12) !== 32)
    ) {
      throw protocolError(`status line "${head.slice(0, Math.min(eol, 64))}"`);
    }
    const status = d0 * 100 + d1 * 10 + d2;
    const headers = new Fields();
    let contentLength = -1;
    let transferEncoding: string | undefined;
    let connection: string | undefined;
    let keepAliveHint: string | undefined;
    let pos = eol + 2;
    const length = head.length;
    while (pos < length) {
      let next = head.indexOf('\r\n', pos);
      if (next < 0) next = length;
      const colon = head.indexOf(':', pos);
      if (colon < 0 || colon >= next) throw protocolError('a header line without a colon');
      const name = head.slice(pos, colon);
      // Not a token: empty, whitespace before the colon, or a line starting with SP/HTAB (obs-fold).
      if (!TOKEN.test(name)) throw protocolError(`field name "${name.slice(0, 64)}"`);
      let s = colon + 1;
      let e = next;
      let c = head.charCodeAt(s);
      while (s < e && (c === 32 || c === 9)) c = head.charCodeAt(++s);
      c = head.charCodeAt(e - 1);
      while (e > s && (c === 32 || c === 9)) c = head.charCodeAt(--e - 1);
      const value = head.slice(s, e);
      pos = next + 2;
      const lower = name.toLowerCase();
      switch (lower) {
        case 'content-length':
          if (contentLength !== -1) throw protocolError('more than one Content-Length');
          if (!DIGITS.test(value)) throw protocolError(`Content-Length "${value.slice(0, 64)}"`);
          contentLength = Number(value);
          break;
        case 'transfer-encoding':
          transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
          break;
        case 'connection':
          connection = connection === undefined ? value : `${connection}, ${value}`;
          break;
        case 'keep-alive':
          keepAliveHint = value;
          break;
        case '__proto__':
          continue; // not a field anyone can mean; never a prototype
      }
      addField(headers, lower, value);
    }

    if (status < 200) {
      if (status === 101) throw protocolError('101 Switching Protocols, but no upgrade was asked for');
      return false; // 1xx: informational, skipped; the final head follows
    }
    let keepAlive = minor >= 1;
    if (connection !== undefined) {
      const tokens = connection.toLowerCase();
      if (tokens === 'keep-alive') keepAlive = true;
      else if (tokens === 'close') keepAlive = false;
      else {
        for (const t of tokens.split(',')) {
          const token = t.trim();
          if (token === 'close') {
            keepAlive = false;
            break;
          }
          if (token === 'keep-alive') keepAlive = true;
        }
      }
    }
    if (keepAliveHint !== undefined) {
      const m = KEEP_ALIVE_TIMEOUT.exec(keepAliveHint);
      if (m !== null) {
        // Close before the upstream does: a second early, and a tick for the coarse clock.
        const ms = Number(m[1]) * 1000 - 1000 - this.pool.client.tickMs;
        if (ms <= 0) keepAlive = false;
        else if (ms < this.keepAliveMs) this.keepAliveMs = ms;
      }
    }
    let framing = P_SIZED;
    if (transferEncoding !== undefined) {
      if (contentLength !== -1) throw protocolError('both Content-Length and Transfer-Encoding');
      framing = chunkedLast(transferEncoding) ? P_CHUNK_SIZE : P_UNTIL_CLOSE;
    } else if (contentLength === -1) {
      framing = P_UNTIL_CLOSE;
    }
    const noBody = !req.expectBody || status === 204 || status === 304;
    this.keepAlive = keepAlive && (noBody || framing !== P_UNTIL_CLOSE);
    this.timerKind = T_BODY;
    this.timerLimit = this.pool.client.bodyTimeout;
    this.touch();
    if (noBody || (framing === P_SIZED && contentLength === 0)) {
      this.pstate = P_IDLE;
      req.handler.onResponseStart(req, status, headers);
      return true;
    }
    this.pstate = framing;
    this.remaining = contentLength;
    this.line = '';
    this.trailerBytes = 0;
    req.handler.onResponseStart(req, status, headers);
    return false;
  }

  private onChunkSize(line: string): void {
    let i = 0;
    let size = 0;
    for (; i < line.length; i++) {
      const c = line.charCodeAt(i);
      const v = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
      if (v < 0) break;
      size = size * 16 + v;
    }
    if (i === 0 || i > 16 || size > Number.MAX_SAFE_INTEGER) throw protocolError(`chunk size "${line.slice(0, 32)}"`);
    if (i < line.length && !CHUNK_EXTENSION.test(line.slice(i))) throw protocolError('a chunk extension');
    if (size === 0) {
      this.pstate = P_TRAILERS;
      this.trailers = new Fields();
    } else {
      this.pstate = P_CHUNK_DATA;
      this.remaining = size;
    }
  }

  private onTrailer(line: string): void {
    this.trailerBytes += line.length + 2;
    if (this.trailerBytes > this.pool.client.maxHeaderSize) throw protocolError('the trailers are too large');
    if (INVALID_HEAD.test(line)) throw protocolError('a control character in a trailer');
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon) : '';
    if (!TOKEN.test(name)) throw protocolError('a trailer line');
    const lower = name.toLowerCase();
    if (lower === '__proto__') return;
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    addField(this.trailers!, lower, value);
  }

  /** The response ended. `extra`: bytes followed it in the same read (no pipelining: the connection is spoiled). */
  private complete(req: Exchange, extra: boolean): void {
    const reusable = this.keepAlive && !extra && req.bodyDone && !this.pool.client.closed;
    const trailers = this.trailers ?? new Fields();
    this.trailers = null;
    this.req = null;
    this.reused = true;
    req.state = DONE;
    req.conn = null;
    req.detachBody();
    // The connection goes back first (to the next waiting request, or idle): whatever the handler does next.
    if (reusable) this.pool.release(this);
    else this.destroy();
    req.handler.onResponseEnd(req, trailers);
  }
}

/** Add a field to a head or trailer map: a name seen again becomes an array of its values, in order. */
function addField(fields: UpstreamHeaders, lower: string, value: string): void {
  const prior = fields[lower];
  if (prior === undefined) fields[lower] = value;
  else if (typeof prior === 'string') fields[lower] = [prior, value];
  else prior.push(value);
}

const HTTP1 = Buffer.from('HTTP/1.', 'latin1');

/**
 * A head still incomplete after a read (bytes `start`…, new from `from`): fail now on what can never become a valid
 * head, rather than wait for the headers timeout: not starting with `HTTP/1.`, or an LF without its CR.
 */
function checkPartialHead(buf: Buffer, start: number, from: number): void {
  const n = Math.min(buf.length - start, HTTP1.length);
  if (buf.compare(HTTP1, 0, n, start, start + n) !== 0) throw protocolError('no HTTP/1.x status line');
  for (let i = buf.indexOf(LF, from); i >= 0; i = buf.indexOf(LF, i + 1)) {
    if (i === start || buf[i - 1] !== CR) throw protocolError('a bare LF in the head');
  }
}

/** Is chunked the last transfer coding (and applied once)? Anything else: read until close (RFC 9112 §6.3). */
function chunkedLast(value: string): boolean {
  const lower = value.toLowerCase();
  if (lower === 'chunked') return true;
  const codings = lower.split(',').map((c) => c.trim().split(';')[0]!.trim());
  const chunked = codings.filter((c) => c === 'chunked').length;
  if (chunked === 0) return false;
  if (chunked > 1 || codings[codings.length - 1] !== 'chunked') {
    throw protocolError(`Transfer-Encoding "${value.slice(0, 64)}"`);
  }
  return true;
}
