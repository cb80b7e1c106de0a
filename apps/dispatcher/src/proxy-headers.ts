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

/** Field names listed in a Connection header (`close, X-Foo`), lowercased; undefined when there are none. */
function connectionNames(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;
  const text = Array.isArray(value) ? value.join(',') : value;
  let names: Set<string> | undefined;
  for (const part of text.split(',')) {
    const name = part.trim().toLowerCase();
    if (name === '' || name === 'close' || name === 'keep-alive') continue;
    names ??= new Set();
    names.add(name);
  }
  return names;
}

/** What the forwarding headers say about the hop the request came in on. */
export interface ForwardedFacts {
  readonly remoteAddress: string | undefined;
  readonly proto: 'http' | 'https';
  /** Request header names (lowercase) that must not be forwarded, e.g. the trust secret header. */
  readonly strip: ReadonlySet<string>;
}

/**
 * The headers to send upstream, as a flat `[name, value, …]` list keeping the client's order and spelling:
 * hop-by-hop fields removed (RFC 9110 §7.6.1, including those named in Connection), X-Forwarded-For appended to,
 * X-Forwarded-Proto and X-Forwarded-Host set.
 *
 * @example
 * const out = upstreamRequestHeaders(req.rawHeaders, req.headers, { remoteAddress: '10.0.0.1', proto: 'http', strip: new Set() });
 */
export function upstreamRequestHeaders(
  raw: readonly string[],
  headers: IncomingHttpHeaders,
  facts: ForwardedFacts,
): string[] {
  const named = connectionNames(headers.connection);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (NOT_FORWARDED.has(lower) || facts.strip.has(lower) || named?.has(lower)) continue;
    out.push(name, raw[i + 1]!);
  }
  const prior = headers['x-forwarded-for'];
  const remote = facts.remoteAddress ?? 'unknown';
  out.push('x-forwarded-for', prior === undefined ? remote : `${prior}, ${remote}`);
  out.push('x-forwarded-proto', facts.proto);
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
