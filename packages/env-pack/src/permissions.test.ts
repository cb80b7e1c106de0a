import type { Permission } from '@greentic/deploy-spec';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { diffPermissions } from './permissions';

const need: Permission[] = [
  { resource: 'apps/deployments', verbs: ['get', 'patch'], scope: 'namespace' },
  { resource: 'configmaps', verbs: ['get'], scope: 'namespace' },
];

describe('diffPermissions', () => {
  it('lists missing and extra rights verb by verb', () => {
    expect(
      diffPermissions(need, [
        { resource: 'apps/deployments', verbs: ['get', 'delete'], scope: 'namespace' },
        { resource: 'configmaps', verbs: ['get'], scope: 'cluster' },
      ]),
    ).toEqual({
      missing: [
        { resource: 'apps/deployments', verbs: ['patch'], scope: 'namespace' },
        { resource: 'configmaps', verbs: ['get'], scope: 'namespace' },
      ],
      extra: [
        { resource: 'configmaps', verbs: ['get'], scope: 'cluster' },
        { resource: 'apps/deployments', verbs: ['delete'], scope: 'namespace' },
      ],
    });
  });

  it('a wildcard grant covers what is needed but is itself extra', () => {
    expect(diffPermissions(need, [...need, { resource: 'configmaps', verbs: ['*'], scope: 'namespace' }])).toEqual({
      missing: [],
      extra: [{ resource: 'configmaps', verbs: ['*'], scope: 'namespace' }],
    });
  });

  it('exactly the requirements (in any grouping) is neither missing nor extra (property)', () => {
    const perm = fc.record({
      resource: fc.constantFrom('pods', 'secrets', 'process'),
      verbs: fc.uniqueArray(fc.constantFrom<string>('get', 'list', 'patch', 'spawn'), { minLength: 1 }),
      scope: fc.constantFrom('namespace' as const, 'host' as const),
    });
    fc.assert(
      fc.property(fc.array(perm, { maxLength: 6 }), fc.array(perm, { maxLength: 3 }), (req, more) => {
        const split = req.flatMap((p) => p.verbs.map((v) => ({ ...p, verbs: [v] })));
        expect(diffPermissions(req, split)).toEqual({ missing: [], extra: [] });
        const d = diffPermissions(req, [...split, ...more]);
        expect(d.missing).toEqual([]);
        // Every reported extra verb is granted and not required.
        for (const e of d.extra) {
          for (const v of e.verbs) {
            expect(req.some((p) => p.resource === e.resource && p.scope === e.scope && p.verbs.includes(v))).toBe(
              false,
            );
          }
        }
      }),
    );
  });
});
