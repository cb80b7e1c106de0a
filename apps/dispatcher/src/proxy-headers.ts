import type { IncomingHttpHeaders } from 'node:http';

// RFC 9110 §7.6.1: a proxy removes Connection and the fields it names, plus Proxy-Connection, Keep-Alive, TE,
// Transfer-Encoding and Upgrade, before forwarding. `expect` is answered by this hop (Node sends 100 Continue)
// and `host` is the upstream's own (the original goes in X-Forwarded-Host).
const HOP_BY_HOP = new Set(['connection', 'proxy-connection', 'keep-alive', 'te', 'transfer-encoding', 'upgrade']);
const NOT_FORWARDED = new Set([
  ...HOP_BY_HOP,
  'host',
  'expect',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
]);

// RFC 9110 §6.5.1: framing fields are never trailers either.
const NOT_TRAILERS = new Set([...HOP_BY_HOP, 'content-length', 'trailer']);

/** Field names listed in a Connection header (`close, X-Foo`), lowercased; undefined when there are none. */
function connectionNames(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;
  const text = Array.isArray(value) ? value.join(',') : value;
  // The usual values name no field: answered without splitting.
  if (text.length <= 10) {
    const lower = text.toLowerCase();
    if (lower === 'keep-alive' || lower === 'close') return undefined;
  }
  let names: Set<string> | undefined;
  for (const part of text.split(',')) {
    const name = part.trim().toLowerCase();
    if (name === '' || name === 'close' || name === 'keep-alive') continue;
    names ??= new Set();
    names.add(name);
  }
  return names;
}

/**
 * The request header names (lowercase) never forwarded: hop-by-hop fields, `host`, `expect`, the X-Forwarded-*
 * fields this hop rewrites, plus `extra` (e.g. the trust secret header). Built once per dispatcher.
 *
 * @example
 * const dropped = droppedRequestHeaders(['x-greentic-trust']);
 */
export function droppedRequestHeaders(extra: Iterable<string>): ReadonlySet<string> {
  const dropped = new Set(NOT_FORWARDED);
  for (const name of extra) dropped.add(name.toLowerCase());
  return dropped;
}

/**
 * The headers to send upstream, as a flat `[name, value, …]` list keeping the client's order and spelling:
 * `dropped` removed (see `droppedRequestHeaders`), and the fields named in Connection (RFC 9110 §7.6.1);
 * X-Forwarded-For appended to, X-Forwarded-Proto and X-Forwarded-Host set.
 *
 * @example
 * const out = upstreamRequestHeaders(req.rawHeaders, req.headers, '10.0.0.1', 'http', droppedRequestHeaders([]));
 */
export function upstreamRequestHeaders(
  raw: readonly string[],
  headers: IncomingHttpHeaders,
  remoteAddress: string | undefined,
  proto: 'http' | 'https',
  dropped: ReadonlySet<string>,
): string[] {
  const named = connectionNames(headers.connection);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (dropped.has(lower) || named?.has(lower)) continue;
    out.push(name, raw[i + 1]!);
  }
  const prior = headers['x-forwarded-for'];
  const remote = remoteAddress ?? 'unknown';
  out.push('x-forwarded-for', prior === undefined ? remote : `${prior}, ${remote}`, 'x-forwarded-proto', proto);
  if (headers.host !== undefined) out.push('x-forwarded-host', headers.host);
  return out;
}

/**
 * The upstream's response headers minus hop-by-hop fields (and those its Connection header names), ready for
 * `res.writeHead`. `setCookie` is added to any Set-Cookie the upstream sent.
 *
 * @example
 * res.writeHead(statusCode, downstreamResponseHeaders(headers, undefined));
 */
export function downstreamResponseHeaders(
  headers: Record<string, string | string[] | undefined>,
  setCookie: string | undefined,
): Record<string, string | string[]> {
  const named = connectionNames(headers.connection);
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || HOP_BY_HOP.has(name) || named?.has(name)) continue;
    out[name] = value;
  }
  if (setCookie !== undefined) {
    const prior = out['set-cookie'];
    out['set-cookie'] = prior === undefined ? setCookie : [...(Array.isArray(prior) ? prior : [prior]), setCookie];
  }
  return out;
}

/**
 * The trailer fields of a chunked answer to pass on to the client: hop-by-hop and framing fields removed; undefined
 * when none are left.
 *
 * @example
 * downstreamTrailers({ 'x-checksum': 'sha256:…', 'content-length': '9' }); // { 'x-checksum': 'sha256:…' }
 */
export function downstreamTrailers(
  trailers: Record<string, string | string[]>,
): Record<string, string | string[]> | undefined {
  let out: Record<string, string | string[]> | undefined;
  for (const name in trailers) {
    if (NOT_TRAILERS.has(name)) continue;
    out ??= {};
    out[name] = trailers[name]!;
  }
  return out;
}
