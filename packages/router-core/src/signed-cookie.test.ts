import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createCookieSigner } from './signed-cookie';

describe('createCookieSigner', () => {
  const keyA = 'key-a-0123456789abcdef';
  const keyB = 'key-b-0123456789abcdef';

  it('verifies its own cookie and refuses it for another deployment', () => {
    const s = createCookieSigner({ keys: [keyA] });
    const v = s.sign('acme/support', 'r7');
    expect(s.verify('acme/support', v)).toBe('r7');
    expect(s.verify('globex/support', v)).toBeUndefined();
  });

  it('keeps old cookies valid while a new key is rotated in, and drops them when the old key goes', () => {
    const old = createCookieSigner({ keys: [keyA] }).sign('acme/support', 'r7');
    expect(createCookieSigner({ keys: [keyB, keyA] }).verify('acme/support', old)).toBe('r7');
    expect(createCookieSigner({ keys: [keyB] }).verify('acme/support', old)).toBeUndefined();
  });

  it('refuses an expired cookie', () => {
    let t = 1_000_000_000_000;
    const s = createCookieSigner({ keys: [keyA], ttlSeconds: 60, now: () => t });
    const v = s.sign('acme/support', 'r7');
    t += 59_000;
    expect(s.verify('acme/support', v)).toBe('r7');
    t += 2_000;
    expect(s.verify('acme/support', v)).toBeUndefined();
  });

  it('refuses short keys without echoing them', () => {
    expect(() => createCookieSigner({ keys: ['short-secret'] })).toThrow(/16 or more characters/);
    try {
      createCookieSigner({ keys: ['short-secret'] });
    } catch (e) {
      expect(String(e)).not.toContain('short-secret');
    }
  });

  it('accepts only the canonical spelling of a signature (spare bits and stray characters refused)', () => {
    const s = createCookieSigner({ keys: [keyA] });
    const good = s.sign('acme/support', 'r7');
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(good.at(-1) ?? '');
    // 32 bytes take 43 characters, whose last two bits are spare: flipping one decodes to the same MAC
    const spareBit = good.slice(0, -1) + alphabet[last ^ 1];
    expect(Buffer.from(spareBit.split('.')[3] ?? '', 'base64url')).toEqual(
      Buffer.from(good.split('.')[3] ?? '', 'base64url'),
    );
    expect(s.verify('acme/support', spareBit)).toBeUndefined();
    expect(s.verify('acme/support', `${good}=`)).toBeUndefined();
    expect(s.verify('acme/support', good)).toBe('r7');
  });

  it('never accepts a tampered or random value (property)', () => {
    const s = createCookieSigner({ keys: [keyA] });
    const good = s.sign('acme/support', 'r7');
    fc.assert(
      fc.property(
        fc.string(),
        fc.nat({ max: good.length - 1 }),
        fc.string({ minLength: 1, maxLength: 1 }),
        (junk, i, ch) => {
          expect(s.verify('acme/support', junk)).toBeUndefined();
          const tampered = good.slice(0, i) + ch + good.slice(i + 1);
          if (tampered !== good) expect(s.verify('acme/support', tampered)).toBeUndefined();
        },
      ),
    );
  });
});

describe('createCookieSigner caches', () => {
  it('still refuses a remembered cookie once it expires, and for another deployment', () => {
    let t = 1_000_000_000_000;
    const s = createCookieSigner({ keys: ['key-a-0123456789abcdef'], ttlSeconds: 10, now: () => t });
    const v = s.sign('acme/support', 'r7');
    expect(s.sign('acme/support', 'r7')).toBe(v);
    expect(s.verify('acme/support', v)).toBe('r7');
    expect(s.verify('acme/support', v)).toBe('r7');
    expect(s.verify('globex/support', v)).toBeUndefined();
    t += 10_001;
    expect(s.verify('acme/support', v)).toBeUndefined();
    expect(s.sign('acme/support', 'r7')).not.toBe(v);
  });
});
