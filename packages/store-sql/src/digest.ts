import { hash } from 'node:crypto';
import { canonicalJson } from '@greentic/deploy-spec';

// The store's hot path hashes five times per write (request fingerprint, object digest, the digest checked on
// read, the audit entry's hash). These give exactly the bytes of deploy-spec's `bytesDigest` / `contentDigest`
// (sha256 of the UTF-8 text, `sha256:` + hex) through Node's one-shot `crypto.hash`, which skips the Hash object
// that `createHash().update().digest()` allocates and costs about half as much.

/** `sha256:<hex>` of a string's UTF-8 bytes: the same as `bytesDigest(text)`. */
export function textDigest(text: string): `sha256:${string}` {
  return `sha256:${hash('sha256', text)}`;
}

/** `sha256:<hex>` of the canonical JSON of `value`: the same as `contentDigest(value)`. */
export function canonicalDigest(value: unknown): `sha256:${string}` {
  return textDigest(canonicalText(value));
}

/** Nesting the direct serializer follows before it leaves the value to deploy-spec's (stack-safe) one. */
const MAX_DEPTH = 64;

/**
 * Exactly deploy-spec's `canonicalJson(value)` (RFC 8785), made directly when `value` is plain JSON data (plain
 * objects, arrays, strings, finite numbers, booleans, null; `undefined` members skipped) — what every value on the
 * write path is — which costs a fraction of the general serializer's frames and cycle set. Anything else (toJSON,
 * boxed or non-finite numbers, lone surrogates, class instances, holes, deep nesting) goes to `canonicalJson`,
 * so the bytes and the errors are always its own.
 */
export function canonicalText(value: unknown): string {
  return direct(value, 0) ?? canonicalJson(value);
}

/**
 * The canonical JSON of `value` when it is plain JSON data (see {@link canonicalText}), else undefined. Plain data
 * survives a `JSON.parse(JSON.stringify(…))` round trip unchanged up to its canonical form, so this also stands in
 * for the canonical JSON of that round trip.
 */
export function plainCanonicalJson(value: unknown): string | undefined {
  return direct(value, 0);
}

/** No lone surrogate (`String.prototype.isWellFormed`, Node 20+, newer than the compile target's lib). */
function wellFormed(s: string): boolean {
  return (s as unknown as { isWellFormed(): boolean }).isWellFormed();
}

function direct(v: unknown, depth: number): string | undefined {
  switch (typeof v) {
    case 'string':
      return wellFormed(v) ? JSON.stringify(v) : undefined;
    case 'number':
      return Number.isFinite(v) ? JSON.stringify(v) : undefined;
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object': {
      if (v === null) return 'null';
      if (depth >= MAX_DEPTH || typeof (v as { toJSON?: unknown }).toJSON === 'function') return undefined;
      if (Array.isArray(v)) {
        let out = '[';
        for (let i = 0; i < v.length; i++) {
          const s = direct(v[i], depth + 1);
          if (s === undefined) return undefined;
          out += i === 0 ? s : `,${s}`;
        }
        return `${out}]`;
      }
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) return undefined;
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o).sort();
      let out = '{';
      for (const k of keys) {
        const x = o[k];
        if (x === undefined) continue;
        const s = direct(x, depth + 1);
        if (s === undefined || !wellFormed(k)) return undefined;
        out += `${out.length === 1 ? '' : ','}${JSON.stringify(k)}:${s}`;
      }
      return `${out}}`;
    }
    default:
      return undefined;
  }
}
