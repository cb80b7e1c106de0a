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
  return textDigest(canonicalJson(value));
}
