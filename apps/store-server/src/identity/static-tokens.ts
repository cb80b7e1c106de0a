import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AccessGrant, AccessRule, Principal } from '../authorization';
import { bearerToken, type IdentityProvider } from './provider';

/** Prefix of every token this server mints, so a JWT and a static token are told apart without guessing. */
export const TOKEN_PREFIX = 'gtc_';

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** A stored token: only its SHA-256 hash is kept, never the token. */
export interface TokenRecord {
  readonly actor: string;
  /** `sha256:` plus the lowercase hex SHA-256 of the full token string. */
  readonly tokenHash: string;
  readonly grants: readonly AccessGrant[];
  readonly rules?: readonly AccessRule[];
}

/** Where token records live (the store's access verbs, or a fixed list). */
export interface TokenDirectory {
  /** The record whose hash equals `tokenHash`, if any. */
  findByHash(tokenHash: string): Promise<TokenRecord | undefined>;
  /** Drop anything cached (called after a token was created or revoked through this server). */
  forget?(): void;
}

/**
 * Mints a new random token (256 bits). Show it once; store only `hashToken(token)`.
 *
 * @example
 * const token = mintToken(); // 'gtc_Q2x…'
 */
export function mintToken(): string {
  return `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/**
 * SHA-256 hex of a token: what the store keeps.
 *
 * @example
 * hashToken('gtc_abc'); // 'sha256:5f0c…'
 */
export function hashToken(token: string): string {
  return `sha256:${createHash('sha256').update(token, 'utf8').digest('hex')}`;
}

/** The 32 digest bytes of a `sha256:<hex>` string, or undefined when it is not one. */
function digestBytes(hash: string): Buffer | undefined {
  const bytes = Buffer.from(hash.replace(/^sha256:/, ''), 'hex');
  return bytes.length === 32 ? bytes : undefined;
}

/** Digest bytes of records, parsed once per record object (records are immutable). */
const recordDigests = new WeakMap<TokenRecord, Buffer | null>();

function recordDigest(record: TokenRecord): Buffer | undefined {
  let bytes = recordDigests.get(record);
  if (bytes === undefined) {
    bytes = digestBytes(record.tokenHash) ?? null;
    recordDigests.set(record, bytes);
  }
  return bytes ?? undefined;
}

function sameDigest(left: Buffer | undefined, right: Buffer | undefined): boolean {
  // Both are SHA-256 digests (32 bytes); a malformed stored value simply never matches.
  return left !== undefined && right !== undefined && timingSafeEqual(left, right);
}

function sameHash(a: string, b: string): boolean {
  return sameDigest(digestBytes(a), digestBytes(b));
}

/**
 * A directory over a fixed list of records. Every lookup compares against every record in constant time,
 * so neither which token matched nor how much of it matched leaks through timing.
 *
 * @example
 * const dir = fixedTokenDirectory([{ actor: 'ci', tokenHash: hashToken(t), grants: [{ role: 'operator' }] }]);
 */
export function fixedTokenDirectory(records: readonly TokenRecord[]): TokenDirectory {
  return {
    async findByHash(tokenHash) {
      let found: TokenRecord | undefined;
      for (const record of records) {
        if (sameHash(record.tokenHash, tokenHash) && found === undefined) found = record;
      }
      return found;
    },
  };
}

/** How many verified tokens keep their hash cached (per provider). */
const VERIFIED_TOKENS = 1024;

/** One principal per (immutable) record object, built once. */
const principals = new WeakMap<TokenRecord, Principal>();

/**
 * Static bearer tokens (`Authorization: Bearer gtc_…`; any bearer token that is not a JWT), looked up by hash and re-compared in constant time.
 *
 * The SHA-256 of a token that was verified is kept in a bounded map (token → hash), so a client sending the same
 * token again is not hashed again. Only the hash computation is cached, never the verdict: every request still
 * looks the hash up in the directory (revocation applies as before) and compares the digests in constant time.
 * Tokens that matched no record are never cached, so guessing cannot fill the map.
 *
 * @example
 * const provider = staticTokenProvider(fixedTokenDirectory(records));
 */
export function staticTokenProvider(directory: TokenDirectory): IdentityProvider {
  const verified = new Map<string, { readonly hash: string; readonly digest: Buffer }>();
  return {
    name: 'token',
    async identify(request) {
      if (request.authorization === undefined) return { kind: 'not-mine' };
      const token = bearerToken(request.authorization);
      if (token === undefined) {
        return /^Bearer\b/i.test(request.authorization)
          ? { kind: 'rejected', reason: 'malformed Authorization header: expected Bearer <token>' }
          : { kind: 'not-mine' };
      }
      let known = verified.get(token);
      if (known === undefined) {
        // A JWT (three dot-separated parts) belongs to the OIDC provider.
        if (JWT_SHAPE.test(token)) return { kind: 'not-mine' };
        const hash = hashToken(token);
        known = { hash, digest: digestBytes(hash) as Buffer };
      }
      const record = await directory.findByHash(known.hash);
      // Re-compare in constant time even after an indexed lookup: the index is an optimisation, not the check.
      if (record === undefined || !sameDigest(recordDigest(record), known.digest)) {
        verified.delete(token);
        return { kind: 'rejected', reason: 'unknown or revoked bearer token' };
      }
      if (!verified.has(token)) {
        if (verified.size >= VERIFIED_TOKENS) verified.delete(verified.keys().next().value as string);
        verified.set(token, known);
      }
      let principal = principals.get(record);
      if (principal === undefined) {
        principal = { actor: record.actor, via: 'token', grants: record.grants, rules: record.rules ?? [] };
        principals.set(record, principal);
      }
      return { kind: 'authenticated', principal };
    },
  };
}
