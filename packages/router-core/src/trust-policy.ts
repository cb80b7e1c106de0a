import { timingSafeEqual } from 'node:crypto';
import { BlockList, isIPv4, isIPv6 } from 'node:net';

/** Who may use the trusted revision header. Secrets are never printed. */
export interface TrustPolicyOptions {
  /** CIDR ranges (`10.0.0.0/8`, `127.0.0.1/32`, `fd00::/8`) whose requests are trusted. */
  readonly cidrs?: readonly string[];
  /** A shared secret: a request carrying it in the secret header is trusted from anywhere. */
  readonly sharedSecret?: string | undefined;
}

/** Decides whether a request may steer routing with the trusted header. */
export interface TrustPolicy {
  /** True when `remoteAddress` is in a trusted range or `secretHeader` equals the shared secret. */
  isTrusted(remoteAddress: string | undefined, secretHeader: string | undefined): boolean;
}

/** The result of parsing a CIDR list: the policy, or the entries that are not CIDRs. */
export type TrustPolicyResult =
  | { readonly ok: true; readonly policy: TrustPolicy }
  | { readonly ok: false; readonly errors: readonly string[] };

/**
 * Build a trust policy from CIDR ranges and an optional shared secret. An untrusted request's header is simply
 * ignored by the router (no error reveals the mechanism). IPv4-mapped IPv6 addresses (`::ffff:10.1.2.3`) are
 * matched against IPv4 ranges.
 *
 * @example
 * const r = createTrustPolicy({ cidrs: ['10.0.0.0/8'] });
 * if (r.ok) r.policy.isTrusted('10.1.2.3', undefined); // true
 */
export function createTrustPolicy(options: TrustPolicyOptions): TrustPolicyResult {
  const list = new BlockList();
  const errors: string[] = [];
  for (const raw of options.cidrs ?? []) {
    const cidr = raw.trim();
    const slash = cidr.indexOf('/');
    const address = slash < 0 ? cidr : cidr.slice(0, slash);
    const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
    const max = family === 'ipv4' ? 32 : 128;
    const prefix = slash < 0 ? max : Number(cidr.slice(slash + 1));
    if (family === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > max) {
      errors.push(`"${cidr}" is not a CIDR range; write it like 10.0.0.0/8 or fd00::/8`);
      continue;
    }
    list.addSubnet(address, prefix, family);
  }
  if (errors.length > 0) return { ok: false, errors };
  const secret = options.sharedSecret ? Buffer.from(options.sharedSecret, 'utf8') : undefined;
  return {
    ok: true,
    policy: {
      isTrusted(remoteAddress, secretHeader) {
        if (secret !== undefined && secretHeader !== undefined) {
          const given = Buffer.from(secretHeader, 'utf8');
          if (given.length === secret.length && timingSafeEqual(given, secret)) return true;
        }
        if (remoteAddress === undefined) return false;
        if (remoteAddress.startsWith('::ffff:') && isIPv4(remoteAddress.slice(7))) {
          return list.check(remoteAddress.slice(7), 'ipv4');
        }
        if (isIPv4(remoteAddress)) return list.check(remoteAddress, 'ipv4');
        return isIPv6(remoteAddress) && list.check(remoteAddress, 'ipv6');
      },
    },
  };
}
