import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Action,
  authorize,
  grantsProblem,
  matchesGlob,
  type Principal,
  READ_ACTIONS,
  type ROLES,
} from './authorization';

const envName = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/);
const ACTIONS = [
  ...READ_ACTIONS,
  'environment.put',
  'deployment.create',
  'revision.stage',
  'revision.drain',
  'traffic.set',
  'traffic.rollback',
  'token.create',
  'store.restore',
  'audit.append-refusal',
];
const adminOnly = (a: string) => a.startsWith('token.') || a.startsWith('store.') || a === 'audit.append-refusal';
const action = fc.constantFrom(...ACTIONS);
const principal = (p: Partial<Principal>): Principal => ({ actor: 'a', via: 'token', grants: [], rules: [], ...p });

describe('authorize', () => {
  it('denies everything to a principal with no grants and no rules', () => {
    fc.assert(
      fc.property(fc.option(envName, { nil: null }), action, (environment, a) => {
        expect(authorize(principal({}), { environment, action: a }).allowed).toBe(false);
      }),
    );
  });

  it('lets read-only read and nothing else; operator everything but admin; admin everything', () => {
    fc.assert(
      fc.property(envName, action, (environment, a) => {
        const can = (role: (typeof ROLES)[number]) =>
          authorize(principal({ grants: [{ role }] }), { environment, action: a }).allowed;
        expect(can('read-only')).toBe(a.endsWith('.read') && !adminOnly(a));
        expect(can('operator')).toBe(!adminOnly(a));
        expect(can('admin')).toBe(true);
      }),
    );
  });

  it('keeps a grant scoped to zain-* inside environments that match, and off environment-less actions', () => {
    const p = principal({ grants: [{ role: 'operator', environments: 'zain-*' }] });
    fc.assert(
      fc.property(envName, (environment) => {
        expect(authorize(p, { environment, action: 'traffic.set' }).allowed).toBe(environment.startsWith('zain-'));
      }),
    );
    expect(authorize(p, { environment: null, action: 'audit.read' }).allowed).toBe(false);
  });

  it('lets a deny rule win over any grant and an allow rule open exactly its actions', () => {
    const p = principal({
      grants: [{ role: 'admin' }],
      rules: [{ effect: 'deny', environments: 'zain-prod', actions: ['traffic.*'] }],
    });
    expect(authorize(p, { environment: 'zain-prod', action: 'traffic.set' })).toEqual({
      allowed: false,
      reason: 'a deny rule covers traffic.set on zain-prod',
    });
    expect(authorize(p, { environment: 'zain-dev', action: 'traffic.set' }).allowed).toBe(true);
    const ruled = principal({ rules: [{ effect: 'allow', environments: 'staging', actions: ['revision.*'] }] });
    fc.assert(
      fc.property(envName, action, (environment, a: Action) => {
        expect(authorize(ruled, { environment, action: a }).allowed).toBe(
          environment === 'staging' && a.startsWith('revision.'),
        );
      }),
    );
  });
});

describe('matchesGlob', () => {
  it('treats regex characters literally and * as any run', () => {
    expect(matchesGlob('a.b', 'axb')).toBe(false);
    expect(matchesGlob('*', '')).toBe(true);
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        const prefix = a.replaceAll('*', '');
        return matchesGlob(`${prefix}*`, `${prefix}${b}`);
      }),
    );
  });
});

describe('grantsProblem', () => {
  it('names the bad member of an unusable grant list', () => {
    expect(grantsProblem([{ role: 'root' }])).toBe('grants[0].role must be one of admin, operator, read-only');
    expect(grantsProblem([{ role: 'admin', extra: 1 }])).toBe('grants[0] has unknown member extra');
    expect(grantsProblem([{ role: 'operator', environments: 'zain-*' }])).toBeUndefined();
  });
});
