import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AccessGrant, AccessRule } from '../authorization';
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

function sameHash(a: string, b: string): boolean {
  const left = Buffer.from(a.replace(/^sha256:/, ''), 'hex');
  const right = Buffer.from(b.replace(/^sha256:/, ''), 'hex');
  // Both are SHA-256 digests (32 bytes); a malformed stored value simply never matches.
  return left.length === 32 && right.length === 32 && timingSafeEqual(left, right);
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

/**
 * Static bearer tokens (`Authorization: Bearer gtc_…`; any bearer token that is not a JWT), looked up by hash and re-compared in constant time.
 *
 * @example
 * const provider = staticTokenProvider(fixedTokenDirectory(records));
 */
export function staticTokenProvider(directory: TokenDirectory): IdentityProvider {
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
      // A JWT (three dot-separated parts) belongs to the OIDC provider.
      if (JWT_SHAPE.test(token)) return { kind: 'not-mine' };
      const hash = hashToken(token);
      const record = await directory.findByHash(hash);
      // Re-compare in constant time even after an indexed lookup: the index is an optimisation, not the check.
      if (record === undefined || !sameHash(record.tokenHash, hash)) {
        return { kind: 'rejected', reason: 'unknown or revoked bearer token' };
      }
      return {
        kind: 'authenticated',
        principal: { actor: record.actor, via: 'token', grants: record.grants, rules: record.rules ?? [] },
      };
    },
  };
}
