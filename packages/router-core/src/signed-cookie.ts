import { createHmac, timingSafeEqual } from 'node:crypto';
import { coarseNow } from './clock';

/** Options of a cookie signer. Keys are secrets: they are never printed, logged, or put in errors. */
export interface CookieSignerOptions {
  /** HMAC-SHA256 keys, newest first: the first signs, every one verifies (rotation: add a new key first, drop the old later). */
  readonly keys: readonly string[];
  /** Lifetime of a new cookie, in seconds (default 86400). */
  readonly ttlSeconds?: number;
  /** The clock, in milliseconds since the epoch (default `coarseNow`: `Date.now` read at most every 25 ms). */
  readonly now?: () => number;
}

/** Signs and verifies the sticky-revision cookie. */
export interface CookieSigner {
  /** The cookie value pinning `revisionId` of deployment `deploymentKey` (`tenant/name`), valid for the TTL. */
  sign(deploymentKey: string, revisionId: string): string;
  /** The revision id in `value` when its signature is valid for `deploymentKey` under any key and it has not expired. */
  verify(deploymentKey: string, value: string): string | undefined;
  /** Lifetime of a new cookie, in seconds (for the cookie's Max-Age). */
  readonly ttlSeconds: number;
}

const VERSION = 'v1';

/**
 * Create a signer for the sticky-revision cookie. The value is `v1.<revision>.<expires>.<mac>` where mac is
 * base64url(HMAC-SHA256(key, "<deployment>|<revision>|<expires>")): it cannot be moved to another deployment,
 * extended, or forged without a key. Invalid, expired, or foreign cookies verify to `undefined`, never throw.
 *
 * @example
 * const signer = createCookieSigner({ keys: [process.env.GREENTIC_COOKIE_KEY ?? 'dev-only-key'] });
 * const value = signer.sign('acme/support', 'r7');
 * signer.verify('acme/support', value); // 'r7'
 */
export function createCookieSigner(options: CookieSignerOptions): CookieSigner {
  if (options.keys.length === 0 || options.keys.some((k) => k.length < 16)) {
    // The message names the fix and never echoes a key.
    throw new TypeError(
      '[router-core] cookie signer: give at least one key of 16 or more characters (a random secret, newest first)',
    );
  }
  const keys = options.keys.map((k) => Buffer.from(k, 'utf8'));
  const ttlSeconds = options.ttlSeconds ?? 86_400;
  const now = options.now ?? coarseNow;
  const mac = (key: Buffer, payload: string): Buffer => createHmac('sha256', key).update(payload).digest();
  // HMAC costs microseconds; the proxy signs and verifies on every request. Signing is memoised per target for
  // the current second (the value only changes when `expires` does), and values that verified are remembered
  // until they expire (exact strings only: a forged or altered value never hits the cache).
  const signed = new Map<string, { expires: number; value: string }>();
  const verified = new Map<string, { deploymentKey: string; revisionId: string; expiresMs: number }>();
  const VERIFIED_MAX = 10_000;
  return {
    ttlSeconds,
    sign(deploymentKey, revisionId) {
      const expires = Math.floor(now() / 1000) + ttlSeconds;
      const target = deploymentKey + '|' + revisionId;
      const memo = signed.get(target);
      if (memo !== undefined && memo.expires === expires) return memo.value;
      const payload = `${target}|${expires}`;
      const value = `${VERSION}.${revisionId}.${expires}.${mac(keys[0]!, payload).toString('base64url')}`;
      if (signed.size > VERIFIED_MAX) signed.clear();
      signed.set(target, { expires, value });
      return value;
    },
    verify(deploymentKey, value) {
      const hit = verified.get(value);
      if (hit !== undefined) {
        // The MAC covers the deployment, so a value verified for one deployment is invalid for any other.
        if (hit.expiresMs > now()) return hit.deploymentKey === deploymentKey ? hit.revisionId : undefined;
        verified.delete(value);
        return undefined;
      }
      return checkSignature(deploymentKey, value);
    },
  };

  function checkSignature(deploymentKey: string, value: string): string | undefined {
    const a = value.indexOf('.');
    const b = value.indexOf('.', a + 1);
    const c = value.indexOf('.', b + 1);
    if (a !== 2 || b < 0 || c < 0 || !value.startsWith(VERSION)) return undefined;
    const revisionId = value.slice(a + 1, b);
    const expiresText = value.slice(b + 1, c);
    const expires = Number(expiresText);
    if (!Number.isInteger(expires) || expires * 1000 <= now()) return undefined;
    const signature = value.slice(c + 1);
    const given = Buffer.from(signature, 'base64url');
    // Only the canonical encoding: base64url decoding ignores the last character's two spare bits (and stray
    // characters), so other spellings of the same MAC would otherwise verify too.
    if (given.length !== 32 || given.toString('base64url') !== signature) return undefined;
    const payload = `${deploymentKey}|${revisionId}|${expiresText}`;
    for (const key of keys) {
      if (timingSafeEqual(mac(key, payload), given)) {
        if (verified.size >= VERIFIED_MAX) verified.clear();
        verified.set(value, { deploymentKey, revisionId, expiresMs: expires * 1000 });
        return revisionId;
      }
    }
    return undefined;
  }
}
