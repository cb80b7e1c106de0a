import { createHash } from 'node:crypto';
import canonicalizeJson from 'canonicalize';

/**
 * Canonical JSON per RFC 8785 (JCS): keys sorted by UTF-16 code units, no insignificant whitespace,
 * numbers in their shortest round-trip form. The same value gives the same bytes on every machine.
 *
 * @example
 * canonicalJson({ b: 1, a: [true, null] }) // '{"a":[true,null],"b":1}'
 */
export function canonicalJson(value: unknown): string {
  if (value === undefined) throw new TypeError('[deploy-spec] canonicalJson: undefined has no JSON form');
  const text = canonicalizeJson(value);
  if (text === undefined) throw new TypeError('[deploy-spec] canonicalJson: value has no JSON form');
  return text;
}

/**
 * `sha256:<hex>` of the canonical JSON of `value`: revision identity and the store's integrity hashes.
 *
 * @example
 * contentDigest({ a: 1 }) === contentDigest({ a: 1 }) // true, whatever the key order was
 */
export function contentDigest(value: unknown): `sha256:${string}` {
  return `sha256:${createHash('sha256').update(canonicalJson(value), 'utf8').digest('hex')}`;
}

/** `sha256:<hex>` of raw bytes (bundle archives, files). */
export function bytesDigest(bytes: Uint8Array | string): `sha256:${string}` {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}
