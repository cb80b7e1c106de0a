import { describe, expect, it } from 'vitest';
import { VERB_ACTIONS } from './contract';
import { isStoreError, STORE_ERROR_CODES, STORE_ERROR_EXIT_CODES, STORE_ERROR_HTTP_STATUS, StoreError } from './errors';

describe('StoreError', () => {
  it('maps every code to the HTTP status the server sends', () => {
    expect(Object.keys(STORE_ERROR_HTTP_STATUS).sort()).toEqual([...STORE_ERROR_CODES].sort());
    expect(Object.keys(STORE_ERROR_EXIT_CODES).sort()).toEqual([...STORE_ERROR_CODES].sort());
    expect(new StoreError('version-conflict', 'x').status).toBe(412);
    expect(new StoreError('precondition-required', 'x').status).toBe(428);
    expect(new StoreError('idempotency-key-reused', 'x').status).toBe(422);
    expect(new StoreError('idempotency-in-flight', 'x').status).toBe(409);
    expect(new StoreError('invalid', 'x').status).toBe(400);
  });

  it('survives a JSON round trip with its code and details', () => {
    const e = new StoreError('version-conflict', 'environment local changed', { currentVersion: 'v7-abc' });
    expect(e.message).toBe('[store] environment local changed');
    const back = StoreError.fromJSON(JSON.parse(JSON.stringify(e)));
    expect(isStoreError(back, 'version-conflict')).toBe(true);
    expect(back.details.currentVersion).toBe('v7-abc');
    expect(back.message).toBe(e.message);
  });

  it('names audit actions the way audit entries spell them', () => {
    for (const action of Object.values(VERB_ACTIONS)) expect(action).toMatch(/^[a-z][a-z-]*\.([a-z][a-z-]*|\*)$/);
  });
});
