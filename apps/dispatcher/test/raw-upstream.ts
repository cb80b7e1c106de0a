import { type Agent, request as httpRequest } from 'node:http';
import type { Socket } from 'node:net';
import net from 'node:net';
import { type Dispatcher, type DispatcherOptions, startDispatcher } from '../src/index';
import { UpstreamClient, type UpstreamClientOptions, type UpstreamHeaders } from '../src/upstream-client';
import { createConfigFolder, oneDeployment, quiet } from './helpers';

/** A request as a raw upstream read it off the wire. */
export interface RawRequest {
  readonly head: string;
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
  /** Which connection it came on (1, 2, … in accept order) and its place on that connection (1, 2, …). */
  readonly connection: number;
  readonly index: number;
}

/** A TCP server on 127.0.0.1 that answers each HTTP/1.1 request with exactly the bytes a test writes. */
export interface RawUpstream {
  readonly url: string;
  readonly requests: RawRequest[];
  /** Connections accepted so far. */
  readonly accepted: () => number;
  /** Ids of the connections the peer (the client under test) has closed. */
  readonly closed: number[];
  /** Resolves when connection `id` has closed. */
  closedConnection(id: number): Promise<void>;
  close(): Promise<void>;
}

export type Answer = (req: RawRequest, socket: net.Socket) => void;

/** Start a raw upstream; `answer` writes the response (or not) for every request it parses. */
export async function startRawUpstream(answer: Answer): Promise<RawUpstream> {
  const requests: RawRequest[] = [];
  const closed: number[] = [];
  const waiters = new Map<number, (() => void)[]>();
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((socket) => {
    const id = ++accepted;
    let index = 0;
    let buf = Buffer.alloc(0);
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('error', () => {});
    socket.on('close', () => {
      sockets.delete(socket);
      closed.push(id);
      for (const w of waiters.get(id) ?? []) w();
    });
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.toString('latin1', 0, end);
        const headers: Record<string, string> = {};
        for (const line of head.split('\r\n').slice(1)) {
          const colon = line.indexOf(':');
          headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
        }
        const length = Number(headers['content-length'] ?? 0);
        if (buf.length < end + 4 + length) return;
        const body = buf.subarray(end + 4, end + 4 + length);
        buf = buf.subarray(end + 4 + length);
        const [method = '', path = ''] = head.split(' ');
        const req = { head, method, path, headers, body, connection: id, index: ++index };
        requests.push(req);
        answer(req, socket);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    accepted: () => accepted,
    closed,
    closedConnection: (id) =>
      closed.includes(id)
        ? Promise.resolve()
        : new Promise<void>((r) => waiters.set(id, [...(waiters.get(id) ?? []), r])),
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A response with a Content-Length, as bytes. */
export function sized(body: string, status = '200 OK', extra = ''): string {
  return `HTTP/1.1 ${status}\r\ncontent-length: ${Buffer.byteLength(body, 'latin1')}\r\n${extra}\r\n${body}`;
}

/** What a client call ended with. */
export interface Received {
  readonly status: number;
  readonly headers: UpstreamHeaders;
  readonly body: Buffer;
  readonly trailers: UpstreamHeaders;
}

/** One request through an `UpstreamClient`, collected; rejects with the client's error. */
export function call(
  client: UpstreamClient,
  origin: string,
  path = '/',
  options: { method?: string; headers?: string[]; body?: import('node:stream').Readable } = {},
): Promise<Received> {
  return new Promise((resolve, reject) => {
    let status = 0;
    let headers: UpstreamHeaders = {};
    const chunks: Buffer[] = [];
    client.dispatch(
      {
        origin,
        path,
        method: options.method ?? 'GET',
        headers: options.headers ?? [],
        body: options.body ?? null,
      },
      {
        onResponseStart: (_c, s, h) => {
          status = s;
          headers = h;
        },
        onResponseData: (_c, chunk) => {
          chunks.push(Buffer.from(chunk));
        },
        onResponseEnd: (_c, trailers) => resolve({ status, headers, body: Buffer.concat(chunks), trailers }),
        onResponseError: (_c, err) => reject(err),
      },
    );
  });
}

/** A client for one test, with short timers; closed by the test. */
export function testClient(options: UpstreamClientOptions = {}): UpstreamClient {
  return new UpstreamClient({ connectTimeout: 2000, headersTimeout: 2000, bodyTimeout: 2000, ...options });
}

/** A dispatcher in front of one endpoint (tenant acme, deployment support, one revision r1). */
export async function dispatcherFor(
  endpoint: string,
  options: Partial<DispatcherOptions> = {},
): Promise<{ dispatcher: Dispatcher; close(): Promise<void> }> {
  const folder = await createConfigFolder();
  await folder.write(oneDeployment(1, [{ id: 'r1', weight: 10_000, endpoint }]));
  const dispatcher = await startDispatcher({ configDir: folder.dir, listen: '127.0.0.1:0', log: quiet, ...options });
  await dispatcher.waitForGeneration(1);
  return {
    dispatcher,
    close: async () => {
      await dispatcher.close();
      await folder.remove();
    },
  };
}

/** What a client of the dispatcher received, byte for byte (node:http, a fresh connection per request). */
export interface Fetched {
  readonly status: number;
  readonly rawHeaders: string[];
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
  /** Trailer fields of a chunked answer (lowercase names). */
  readonly trailers: Record<string, string | undefined>;
  /** The client connection it came on. */
  readonly socket: Socket;
}

export function fetchRaw(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: Buffer; agent?: Agent } = {},
): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const agent = options.agent ?? false;
    let socket: Socket | undefined;
    const req = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          rawHeaders: res.rawHeaders,
          headers: res.headers,
          body: Buffer.concat(chunks),
          trailers: res.trailers,
          socket: socket!,
        }),
      );
    });
    req.on('error', reject);
    // Kept from the start: node:http lets go of `res.socket` when a kept-alive socket is handed back.
    req.on('socket', (s) => {
      socket = s;
    });
    req.end(options.body);
  });
}

export { setTimeout as sleep } from 'node:timers/promises';
