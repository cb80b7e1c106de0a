import { REVISION_STATES, type RevisionState, validate } from '@greentic/deploy-spec';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DesiredState, LivePhase, LiveStatus, RevisionTarget } from './contract';
import { buildRuntimeConfig, routingProblems } from './routes';

const ENV = { name: 'local', slots: {}, config: {} };
const DIGEST = `sha256:${'1'.repeat(64)}`;
const PHASES: LivePhase[] = ['absent', 'starting', 'running', 'unhealthy', 'draining', 'stopped'];

function target(deployment: string, id: string, state: RevisionState, weight: number): RevisionTarget {
  return {
    deployment: {
      environment: 'local',
      name: deployment,
      tenant: `t-${deployment}`,
      billingCustomer: 'b',
      bundleId: 'app',
    },
    bundle: { id: 'app', version: '1.0.0', digest: DIGEST, capabilities: [], secrets: [], runtime: [] },
    revision: {
      environment: 'local',
      deployment,
      id,
      bundle: { id: 'app', version: '1.0.0', digest: DIGEST },
      packConfig: {},
      secretRefs: [],
      state,
      createdAt: '2026-11-23T10:00:00Z',
    },
    weight,
  };
}

function liveOf(entries: [string, string, LivePhase, number][]): LiveStatus {
  return {
    environment: 'local',
    observedAt: '2026-11-23T10:00:00Z',
    revisions: entries.map(([deployment, revision, phase, port]) => ({
      deployment,
      tenant: `t-${deployment}`,
      revision,
      phase,
      endpoint: `http://127.0.0.1:${port}`,
      bundleDigest: DIGEST,
    })),
  };
}

describe('buildRuntimeConfig', () => {
  it('routes ready revisions by weight, keeps draining ones at 0, and leaves the rest out', () => {
    const desired: DesiredState = {
      environment: ENV,
      targets: [
        target('support', 'r1', 'ready', 9_000),
        target('support', 'r2', 'ready', 1_000),
        target('support', 'r3', 'draining', 0),
        target('support', 'r4', 'staged', 0),
        target('support', 'r5', 'failed', 0),
      ],
    };
    const live = liveOf([
      ['support', 'r1', 'running', 4001],
      ['support', 'r2', 'running', 4002],
      ['support', 'r3', 'running', 4003],
      ['support', 'r4', 'stopped', 4004],
      ['support', 'r5', 'unhealthy', 4005],
    ]);
    expect(buildRuntimeConfig(desired, live, 7)).toEqual({
      environment: 'local',
      generation: 7,
      deployments: [
        {
          name: 'support',
          tenant: 't-support',
          revisions: [
            { id: 'r1', state: 'ready', endpoint: 'http://127.0.0.1:4001', weight: 9_000 },
            { id: 'r2', state: 'ready', endpoint: 'http://127.0.0.1:4002', weight: 1_000 },
            { id: 'r3', state: 'draining', endpoint: 'http://127.0.0.1:4003', weight: 0 },
          ],
        },
      ],
    });
  });

  it('moves the share of a dead revision to the live ones, keeping 10000', () => {
    const desired: DesiredState = {
      environment: ENV,
      targets: [
        target('support', 'r1', 'ready', 5_000),
        target('support', 'r2', 'ready', 2_500),
        target('support', 'r3', 'ready', 2_500),
      ],
    };
    const live = liveOf([
      ['support', 'r1', 'absent', 4001],
      ['support', 'r2', 'running', 4002],
      ['support', 'r3', 'running', 4003],
    ]);
    const revs = buildRuntimeConfig(desired, live, 1).deployments[0]?.revisions;
    expect(revs?.map((r) => [r.id, r.weight])).toEqual([
      ['r2', 5_000],
      ['r3', 5_000],
    ]);
  });

  it('only ever weights live ready revisions, and weights always sum to 10000 or 0 (property)', () => {
    const rev = fc.record({
      deployment: fc.constantFrom('a', 'b'),
      state: fc.constantFrom(...REVISION_STATES),
      phase: fc.constantFrom(...PHASES),
      weight: fc.integer({ min: 0, max: 10_000 }),
    });
    fc.assert(
      fc.property(fc.array(rev, { maxLength: 8 }), (revs) => {
        const targets = revs.map((r, i) => target(r.deployment, `r${i}`, r.state, r.weight));
        const live = liveOf(revs.map((r, i) => [r.deployment, `r${i}`, r.phase, 4000 + i]));
        const cfg = buildRuntimeConfig({ environment: ENV, targets }, live, 3);
        expect(validate('runtime-config', cfg).ok).toBe(true);
        expect(routingProblems(cfg)).toEqual([]);
        for (const d of cfg.deployments) {
          const sum = d.revisions.reduce((s, r) => s + r.weight, 0);
          const anyWeighted = revs.some(
            (r, i) => r.deployment === d.name && r.state === 'ready' && r.weight > 0 && r.phase === 'running' && i >= 0,
          );
          expect(sum).toBe(anyWeighted ? 10_000 : 0);
          for (const r of d.revisions) {
            const i = Number(r.id.slice(1));
            if (r.weight > 0) expect([revs[i]?.state, revs[i]?.phase]).toEqual(['ready', 'running']);
            expect(['ready', 'draining']).toContain(revs[i]?.state);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('routingProblems', () => {
  it('names the deployment and revision of each broken rule', () => {
    expect(
      routingProblems({
        environment: 'local',
        generation: 1,
        deployments: [
          {
            name: 'support',
            tenant: 'acme',
            revisions: [
              { id: 'r1', state: 'draining', endpoint: 'http://127.0.0.1:1', weight: 500 },
              { id: 'r1', state: 'ready', endpoint: 'http://127.0.0.1:2', weight: 9_000 },
            ],
          },
        ],
      }),
    ).toEqual([
      'deployment support: revision r1 is draining but holds 500 bps',
      'deployment support: revision r1 is listed twice',
      'deployment support: weights sum to 9500 bps, not 10000',
    ]);
  });
});
