import type { RuntimeConfig } from '@greentic/deploy-spec';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMemoryPinStore } from './pin-store';
import { createSeededRandom } from './random-source';
import { chooseRevision, chooseWeighted, createRouter, readCookie } from './router';
import { type Choice, compileRoutingTable, type RoutingTable } from './routing-table';
import { createCookieSigner } from './signed-cookie';

type Rev = { id: string; state: 'ready' | 'draining'; weight: number };

function config(generation: number, revisions: Rev[]): RuntimeConfig {
  return {
    environment: 'local',
    generation,
    deployments: [
      {
        name: 'support',
        tenant: 'acme',
        revisions: revisions.map((r, i) => ({ ...r, endpoint: `http://127.0.0.1:${9000 + i}` })),
      },
    ],
  };
}

function table(generation: number, revisions: Rev[]): RoutingTable {
  const r = compileRoutingTable(config(generation, revisions));
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.table;
}

function revisionOf(c: Choice): string | undefined {
  return c.kind === 'routed' ? c.revision.id : undefined;
}

describe('compileRoutingTable', () => {
  it('refuses a schema-invalid config with a path and a message', () => {
    const r = compileRoutingTable({ environment: 'local', generation: -1, deployments: [] });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]?.path).toBe('/generation');
  });

  it('refuses a draining revision that still holds weight, naming it and the fix', () => {
    const r = compileRoutingTable(
      config(1, [
        { id: 'r1', state: 'ready', weight: 5000 },
        { id: 'r2', state: 'draining', weight: 5000 },
      ]),
    );
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]?.message).toMatch(/r2 of acme\/support is draining .* set it to 0/);
  });

  it('refuses a revision listed twice', () => {
    const r = compileRoutingTable(
      config(1, [
        { id: 'r1', state: 'ready', weight: 5000 },
        { id: 'r1', state: 'ready', weight: 5000 },
      ]),
    );
    expect(r.ok).toBe(false);
  });
});

describe('chooseWeighted', () => {
  it('answers no-ready-revision when no Ready revision holds weight', () => {
    const t = table(1, [{ id: 'r1', state: 'draining', weight: 0 }]);
    expect(chooseWeighted(t.deployments[0]!, Math.random).kind).toBe('no-ready-revision');
  });

  it('is deterministic under a seeded random source', () => {
    const t = table(1, [
      { id: 'r1', state: 'ready', weight: 5000 },
      { id: 'r2', state: 'ready', weight: 5000 },
    ]);
    const run = (seed: number) => {
      const random = createSeededRandom(seed);
      return Array.from({ length: 50 }, () => revisionOf(chooseWeighted(t.deployments[0]!, random)));
    };
    expect(run(7)).toEqual(run(7));
    expect(run(7)).not.toEqual(run(8));
  });

  it('shares converge to the weights (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 10_000 }), { minLength: 1, maxLength: 12 }),
        fc.integer(),
        (weights, seed) => {
          const t = table(
            1,
            weights.map((w, i) => ({ id: `r${i}`, state: 'ready', weight: w })),
          );
          const d = t.deployments[0]!;
          const random = createSeededRandom(seed);
          const n = 20_000;
          const counts = new Map<string, number>();
          for (let i = 0; i < n; i++) {
            const id = revisionOf(chooseWeighted(d, random))!;
            counts.set(id, (counts.get(id) ?? 0) + 1);
          }
          const total = weights.reduce((a, b) => a + b, 0);
          weights.forEach((w, i) => {
            const share = (counts.get(`r${i}`) ?? 0) / n;
            // 20,000 draws: the standard error of a share is at most 0.35 points; allow 2 points.
            expect(Math.abs(share - w / total)).toBeLessThan(0.02);
          });
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('chooseRevision', () => {
  const t = table(1, [
    { id: 'r1', state: 'ready', weight: 10_000 },
    { id: 'r2', state: 'ready', weight: 0 },
    { id: 'r3', state: 'draining', weight: 0 },
  ]);
  const d = t.deployments[0]!;

  it('tries header, then cookie, then pin, then weighted', () => {
    expect(chooseRevision(d, 'r2', 'r3', 'r1', Math.random)).toMatchObject({ via: 'header', revision: { id: 'r2' } });
    expect(chooseRevision(d, undefined, 'r3', 'r2', Math.random)).toMatchObject({
      via: 'cookie',
      revision: { id: 'r3' },
    });
    expect(chooseRevision(d, undefined, undefined, 'r2', Math.random)).toMatchObject({
      via: 'pin',
      revision: { id: 'r2' },
    });
    expect(chooseRevision(d, undefined, undefined, undefined, Math.random)).toMatchObject({
      via: 'weighted',
      revision: { id: 'r1' },
    });
  });

  it('falls through to weighted when header, cookie and pin name revisions that are gone', () => {
    expect(chooseRevision(d, 'gone1', 'gone2', 'gone3', Math.random)).toMatchObject({
      via: 'weighted',
      revision: { id: 'r1' },
    });
  });
});

describe('readCookie', () => {
  it('finds a cookie by exact name only', () => {
    expect(readCookie('a=1; gtr_x_y=v; b=2', 'gtr_x_y')).toBe('v');
    expect(readCookie('xgtr_x_y=no; gtr_x_y=yes', 'gtr_x_y')).toBe('yes');
    expect(readCookie('gtr_x_yz=no', 'gtr_x_y')).toBeUndefined();
  });
});

describe('createRouter', () => {
  it('pins a new session, keeps it across a weight change, and re-pins when its revision is gone', () => {
    const pins = createMemoryPinStore();
    const router = createRouter(
      table(1, [
        { id: 'r1', state: 'ready', weight: 10_000 },
        { id: 'r2', state: 'ready', weight: 0 },
      ]),
      { pinStore: pins },
    );
    expect(revisionOf(router.route({ path: '/', sessionId: 's1' }) as Choice)).toBe('r1');
    router.setTable(
      table(2, [
        { id: 'r1', state: 'ready', weight: 0 },
        { id: 'r2', state: 'ready', weight: 10_000 },
      ]),
    );
    expect(router.route({ path: '/', sessionId: 's1' })).toMatchObject({ via: 'pin', revision: { id: 'r1' } });
    expect(revisionOf(router.route({ path: '/', sessionId: 's2' }) as Choice)).toBe('r2');
    router.setTable(table(3, [{ id: 'r2', state: 'ready', weight: 10_000 }]));
    expect(router.route({ path: '/', sessionId: 's1' })).toMatchObject({ via: 'weighted', revision: { id: 'r2' } });
    expect(pins.get('acme/support', 's1')).toBe('r2');
  });

  it('honours a valid signed cookie and ignores a forged one', () => {
    const signer = createCookieSigner({ keys: ['0123456789abcdef-key'] });
    const router = createRouter(
      table(1, [
        { id: 'r1', state: 'ready', weight: 10_000 },
        { id: 'r2', state: 'draining', weight: 0 },
      ]),
      { cookieSigner: signer },
    );
    const cookie = signer.sign('acme/support', 'r2');
    expect(router.route({ path: '/', cookieHeader: `theme=dark; gtr_acme_support=${cookie}` })).toMatchObject({
      via: 'cookie',
      revision: { id: 'r2' },
    });
    const forged = cookie.replace('.r2.', '.r1.');
    expect(router.route({ path: '/', cookieHeader: `gtr_acme_support=${forged}` })).toMatchObject({ via: 'weighted' });
  });

  it('works with an asynchronous pin store', async () => {
    const inner = createMemoryPinStore();
    const pins = {
      get: async (d: string, s: string) => inner.get(d, s),
      set: async (d: string, s: string, r: string) => inner.set(d, s, r),
      countByRevision: async (d: string) => inner.countByRevision(d),
    };
    const router = createRouter(table(1, [{ id: 'r1', state: 'ready', weight: 10_000 }]), { pinStore: pins });
    await expect(router.route({ path: '/', sessionId: 'a' })).resolves.toMatchObject({ via: 'weighted' });
    await expect(router.route({ path: '/', sessionId: 'a' })).resolves.toMatchObject({ via: 'pin' });
    expect((await pins.countByRevision('acme/support')).get('r1')).toBe(1);
  });
});

// Random sequences of config changes and requests: the safety rules hold after every step.
describe('router properties', () => {
  const revisionArb = fc.record({
    id: fc.constantFrom('r1', 'r2', 'r3', 'r4'),
    state: fc.constantFrom('ready' as const, 'draining' as const),
    weight: fc.integer({ min: 0, max: 10_000 }),
  });
  const configArb = fc
    .uniqueArray(revisionArb, { selector: (r) => r.id, minLength: 0, maxLength: 4 })
    .map((revs) => revs.map((r) => (r.state === 'draining' ? { ...r, weight: 0 } : r)));
  const requestArb = fc.record({
    session: fc.constantFrom(undefined, 's1', 's2', 's3'),
    header: fc.constantFrom(undefined, 'r1', 'r2', 'r3', 'r4', 'r9'),
    cookieFor: fc.constantFrom(undefined, 'r1', 'r2', 'r3', 'r4', 'r9'),
  });
  const stepArb = fc.oneof(
    fc.record({ kind: fc.constant('config' as const), revisions: configArb }),
    fc.record({ kind: fc.constant('request' as const), request: requestArb }),
  );

  it('no request reaches a revision that is not Ready or draining; new sessions only reach Ready revisions with weight', () => {
    const signer = createCookieSigner({ keys: ['0123456789abcdef-key'] });
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 60 }), fc.integer(), (steps, seed) => {
        let current: Rev[] = [{ id: 'r1', state: 'ready', weight: 10_000 }];
        const router = createRouter(table(0, current), {
          pinStore: createMemoryPinStore(),
          cookieSigner: signer,
          random: createSeededRandom(seed),
        });
        steps.forEach((step, i) => {
          if (step.kind === 'config') {
            current = step.revisions;
            router.setTable(table(i + 1, current));
            return;
          }
          const { request } = step;
          const choice = router.route({
            path: '/',
            sessionId: request.session,
            trustedRevision: request.header,
            cookieHeader:
              request.cookieFor === undefined
                ? undefined
                : `gtr_acme_support=${signer.sign('acme/support', request.cookieFor)}`,
          }) as Choice;
          if (choice.kind !== 'routed') {
            expect(current.some((r) => r.state === 'ready' && r.weight > 0)).toBe(false);
            return;
          }
          const target = current.find((r) => r.id === choice.revision.id);
          expect(target).toBeDefined();
          expect(['ready', 'draining']).toContain(target!.state);
          if (choice.via === 'weighted') {
            expect(target!.state).toBe('ready');
            expect(target!.weight).toBeGreaterThan(0);
          }
        });
      }),
      { numRuns: 300 },
    );
  });

  it('a pinned session never moves while its revision is Ready', () => {
    fc.assert(
      fc.property(fc.array(configArb, { maxLength: 20 }), fc.integer(), (configs, seed) => {
        const router = createRouter(table(0, [{ id: 'r1', state: 'ready', weight: 10_000 }]), {
          pinStore: createMemoryPinStore(),
          random: createSeededRandom(seed),
        });
        let pinned = revisionOf(router.route({ path: '/', sessionId: 's' }) as Choice);
        configs.forEach((revisions, i) => {
          router.setTable(table(i + 1, revisions));
          const stillRoutable = revisions.some((r) => r.id === pinned);
          const now = revisionOf(router.route({ path: '/', sessionId: 's' }) as Choice);
          if (stillRoutable) expect(now).toBe(pinned);
          // A pin to a revision that is gone re-pins (or finds no Ready revision at all).
          if (now !== undefined) pinned = now;
        });
      }),
      { numRuns: 300 },
    );
  });
});
