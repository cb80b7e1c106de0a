import { HTTP_HEADERS } from '@greentic/store-contract';
import { getRequestListener } from '@hono/node-server';

// Responses the app builds itself go out through @hono/node-server's fast path. node-server writes a response
// straight to the socket only when it is an instance of its own lightweight Response (status, string body and a
// plain header object, no ReadableStream, no Headers); a native `Response` is read back through its body
// stream, which costs more than the rest of a store read. node-server hands that class out only by replacing
// `globalThis.Request` and `globalThis.Response` for the whole process (its default), which other code in the
// process may trip over: the server is embedded in other apps' tests, and code holding the native class breaks
// on lightweight objects (`NativeResponse.prototype.text.call(r)` throws). So the class is taken once and the
// globals are put back in the same synchronous step: nothing else ever sees them replaced.

let lightweight: typeof Response | undefined;

/**
 * node-server's lightweight Response class, or the native one when this version of node-server no longer swaps
 * globals (then responses still work, only through the slower path). The process's globals are left as found.
 */
export function lightweightResponseClass(): typeof Response {
  if (lightweight !== undefined) return lightweight;
  const request = Object.getOwnPropertyDescriptor(globalThis, 'Request');
  const response = Object.getOwnPropertyDescriptor(globalThis, 'Response');
  try {
    getRequestListener(() => new Response(null)); // the default (overrideGlobalObjects) installs the classes
    lightweight = globalThis.Response;
  } finally {
    if (request !== undefined) Object.defineProperty(globalThis, 'Request', request);
    if (response !== undefined) Object.defineProperty(globalThis, 'Response', response);
  }
  return lightweight;
}

/**
 * What a response was built from by {@link reply} (status, string body, plain headers), so the access wrapper
 * reads its headers without a `Headers`, and the route table writes it without node-server (a symbol-keyed
 * property: cheaper per request than a WeakMap entry).
 */
const BUILT = Symbol('greentic.store-server.built');
interface BuiltReply {
  readonly status: number;
  readonly body: string | null;
  readonly headers: Readonly<Record<string, string>>;
}
type Built = Response & { [BUILT]?: BuiltReply };

/**
 * A response with a string body (or none) and plain headers, sent through node-server's fast path. `headers`
 * must hold the request id (`X-Request-Id`): every response the app builds carries one.
 *
 * @example
 * return reply(200, JSON.stringify(value), { 'content-type': 'application/json', 'X-Request-Id': id });
 */
export function reply(status: number, body: string | null, headers: Record<string, string>): Response {
  const Light = lightweightResponseClass();
  const res: Built = new Light(body, { status, headers });
  res[BUILT] = { status: status || 200, body, headers };
  return res;
}

/** The headers `res` was built with by {@link reply} when they hold its request id, or undefined for any other. */
export function builtHeaders(res: Response): Readonly<Record<string, string>> | undefined {
  const built = builtReply(res);
  return built !== undefined && built.headers[HTTP_HEADERS.requestId] !== undefined ? built.headers : undefined;
}

/** The status, body and headers `res` was built from by {@link reply}, or undefined for any other response. */
export function builtReply(res: Response): BuiltReply | undefined {
  return Object.hasOwn(res, BUILT) ? (res as Built)[BUILT] : undefined;
}
