import { describe, expect, it } from 'vitest';
import { STORE_ERROR_CODES, STORE_ERROR_HTTP_STATUS } from './errors';
import { etagOf, fillPath, HTTP_ROUTES, storeErrorFromProblem, versionOfEtag } from './http-wire';

describe('HTTP wire contract', () => {
  it('fills every path parameter percent-encoded, and refuses a missing one', () => {
    expect(fillPath(HTTP_ROUTES.getBundle.path, { bundle: 'support-bot', version: '1.0.0+build/7' })).toBe(
      '/v1/bundles/support-bot/versions/1.0.0%2Bbuild%2F7',
    );
    expect(() => fillPath(HTTP_ROUTES.getEnvironment.path, {})).toThrow('missing path parameter environment');
  });

  it('round-trips version tags through strong ETags and rejects weak or malformed ones', () => {
    expect(versionOfEtag(etagOf('v7-3f2a9c01b4de'))).toBe('v7-3f2a9c01b4de');
    expect(versionOfEtag('W/"v7"')).toBeUndefined();
    expect(versionOfEtag('v7')).toBeUndefined();
    expect(versionOfEtag('"a"b"')).toBeUndefined();
  });

  it('rebuilds every store error code from a problem body, with the current tag of a 412', () => {
    for (const code of STORE_ERROR_CODES) {
      const e = storeErrorFromProblem(STORE_ERROR_HTTP_STATUS[code], { code, detail: `[store] ${code}` });
      expect(e.code).toBe(code);
      expect(e.status).toBe(STORE_ERROR_HTTP_STATUS[code]);
    }
    const conflict = storeErrorFromProblem(412, {
      code: 'version-conflict',
      detail: '[store] stale',
      currentVersion: 'v2-aa',
    });
    expect(conflict.details.currentVersion).toBe('v2-aa');
    expect(storeErrorFromProblem(401, { code: 'unauthorized', detail: 'no' }).code).toBe('forbidden');
    expect(storeErrorFromProblem(502, 'not json').code).toBe('unavailable');
  });

  it('marks exactly the non-GET routes as mutating', () => {
    for (const route of Object.values(HTTP_ROUTES)) expect(route.mutating).toBe(route.method !== 'GET');
  });
});
