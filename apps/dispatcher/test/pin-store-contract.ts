import type { PinStore } from '@greentic/router-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The behaviour every PinStore shares, registered as tests (one call per implementation). Each run gets fresh
 * deployment keys so implementations backed by a shared server need no cleanup between cases.
 */
export function describePinStore(name: string, create: () => PinStore, destroy: (store: PinStore) => Promise<void>) {
  describe(`PinStore contract: ${name}`, () => {
    let store: PinStore;
    let n = 0;
    const fresh = () => `acme/contract-${Date.now()}-${n++}`;
    beforeAll(() => {
      store = create();
    });
    afterAll(async () => {
      await destroy(store);
    });

    it('returns nothing for an unknown session, then the pinned revision', async () => {
      const d = fresh();
      expect(await store.get(d, 's')).toBeUndefined();
      await store.set(d, 's', 'r1');
      expect(await store.get(d, 's')).toBe('r1');
    });

    it('re-pins a session to a new revision and counts it once, on the new revision', async () => {
      const d = fresh();
      await store.set(d, 's', 'r1');
      await store.set(d, 's', 'r2');
      expect(await store.get(d, 's')).toBe('r2');
      expect(Object.fromEntries(await store.countByRevision(d))).toEqual({ r2: 1 });
    });

    it('keeps deployments apart: the same session id pins independently per deployment', async () => {
      const a = fresh();
      const b = fresh();
      await store.set(a, 's', 'r1');
      await store.set(b, 's', 'r9');
      expect(await store.get(a, 's')).toBe('r1');
      expect(await store.get(b, 's')).toBe('r9');
      expect(Object.fromEntries(await store.countByRevision(a))).toEqual({ r1: 1 });
    });

    it('counts many sessions per revision', async () => {
      const d = fresh();
      for (let i = 0; i < 25; i++) await store.set(d, `s${i}`, i % 5 === 0 ? 'r2' : 'r1');
      expect(Object.fromEntries(await store.countByRevision(d))).toEqual({ r1: 20, r2: 5 });
    });
  });
}
