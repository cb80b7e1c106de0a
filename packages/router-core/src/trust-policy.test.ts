import { describe, expect, it } from 'vitest';
import { createTrustPolicy } from './trust-policy';

describe('createTrustPolicy', () => {
  it('trusts addresses inside the ranges, including IPv4-mapped IPv6, and nothing else', () => {
    const r = createTrustPolicy({ cidrs: ['10.0.0.0/8', '127.0.0.1', 'fd00::/8'] });
    if (!r.ok) throw new Error(r.errors.join());
    expect(r.policy.isTrusted('10.20.30.40', undefined)).toBe(true);
    expect(r.policy.isTrusted('::ffff:10.1.1.1', undefined)).toBe(true);
    expect(r.policy.isTrusted('127.0.0.1', undefined)).toBe(true);
    expect(r.policy.isTrusted('fd12::1', undefined)).toBe(true);
    expect(r.policy.isTrusted('11.0.0.1', undefined)).toBe(false);
    expect(r.policy.isTrusted('127.0.0.2', undefined)).toBe(false);
    expect(r.policy.isTrusted(undefined, undefined)).toBe(false);
  });

  it('trusts the shared secret from anywhere and refuses a wrong one', () => {
    const r = createTrustPolicy({ sharedSecret: 'sesame-0123456789' });
    if (!r.ok) throw new Error(r.errors.join());
    expect(r.policy.isTrusted('203.0.113.9', 'sesame-0123456789')).toBe(true);
    expect(r.policy.isTrusted('203.0.113.9', 'sesame-012345678X')).toBe(false);
    expect(r.policy.isTrusted('203.0.113.9', undefined)).toBe(false);
  });

  it('refuses entries that are not CIDR ranges, naming them and the fix', () => {
    const r = createTrustPolicy({ cidrs: ['10.0.0.0/33', 'localhost'] });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.errors).toHaveLength(2);
      expect(r.errors[1]).toMatch(/"localhost" is not a CIDR range; write it like 10.0.0.0\/8/);
    }
  });
});
