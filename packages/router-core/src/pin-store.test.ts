import { describe, expect, it } from 'vitest';
import { createMemoryPinStore } from './pin-store';

describe('createMemoryPinStore', () => {
  it('expires a pin after its TTL since last use', () => {
    let t = 0;
    const pins = createMemoryPinStore({ ttlMs: 100, now: () => t });
    pins.set('acme/support', 's', 'r1');
    t = 90;
    expect(pins.get('acme/support', 's')).toBe('r1');
    t = 180; // 90 ms after the last use: still alive (sliding TTL)
    expect(pins.get('acme/support', 's')).toBe('r1');
    t = 281;
    expect(pins.get('acme/support', 's')).toBeUndefined();
  });

  it('evicts the least recently used pin when full', () => {
    let t = 0;
    const pins = createMemoryPinStore({ maxEntries: 2, now: () => t });
    pins.set('d', 'a', 'r1');
    pins.set('d', 'b', 'r1');
    t = 5_000; // uses refresh the LRU position at most once a second
    pins.get('d', 'a');
    pins.set('d', 'c', 'r2');
    expect(pins.get('d', 'b')).toBeUndefined();
    expect(pins.get('d', 'a')).toBe('r1');
    expect(pins.get('d', 'c')).toBe('r2');
  });

  it('counts live pins per revision of one deployment', () => {
    const pins = createMemoryPinStore();
    pins.set('acme/support', 'a', 'r1');
    pins.set('acme/support', 'b', 'r1');
    pins.set('acme/support', 'c', 'r2');
    pins.set('acme/support', 'c', 'r1'); // re-pinned: counted once, on r1
    pins.set('globex/support', 'a', 'r2');
    expect(Object.fromEntries(pins.countByRevision('acme/support'))).toEqual({ r1: 3 });
  });

  it('keeps one LRU order across deployments and leaves expired pins out of counts', () => {
    let t = 0;
    const pins = createMemoryPinStore({ maxEntries: 3, ttlMs: 1000, now: () => t });
    pins.set('acme/support', 'a', 'r1');
    pins.set('globex/support', 'a', 'r2');
    pins.set('acme/support', 'b', 'r1');
    t = 10;
    expect(pins.get('acme/support', 'a')).toBe('r1'); // now the most recently used
    pins.set('acme/support', 'c', 'r2'); // evicts globex/support a, the least recently used
    expect(pins.get('globex/support', 'a')).toBeUndefined();
    expect(Object.fromEntries(pins.countByRevision('globex/support'))).toEqual({});
    t = 1005; // b (set at 0) expired; a (used at 10) and c (set at 10) live
    expect(Object.fromEntries(pins.countByRevision('acme/support'))).toEqual({ r1: 1, r2: 1 });
    expect(pins.get('acme/support', 'b')).toBeUndefined();
    t = 5000;
    expect(Object.fromEntries(pins.countByRevision('acme/support'))).toEqual({});
    pins.set('acme/support', 'a', 'r3'); // a fresh pin after everything expired
    expect(pins.get('acme/support', 'a')).toBe('r3');
  });

  it('re-pinning keeps a single entry and moves it to the front', () => {
    let t = 0;
    const pins = createMemoryPinStore({ maxEntries: 2, now: () => t });
    pins.set('d', 'a', 'r1');
    pins.set('d', 'b', 'r1');
    t = 1;
    pins.set('d', 'a', 'r2'); // a is now the most recently used; b the least
    pins.set('d', 'c', 'r1');
    expect(pins.get('d', 'a')).toBe('r2');
    expect(pins.get('d', 'b')).toBeUndefined();
    expect(Object.fromEntries(pins.countByRevision('d'))).toEqual({ r1: 1, r2: 1 });
  });
});
