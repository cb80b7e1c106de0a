import { describe, expect, it } from 'vitest';
import type { LiveStatus, RevisionTarget } from './contract';
import { detectDrift } from './drift';

const DIGEST = `sha256:${'1'.repeat(64)}`;
const ENV = { name: 'local', slots: {}, config: {} };
const t = (id: string, state: RevisionTarget['revision']['state']): RevisionTarget => ({
  deployment: { environment: 'local', name: 'support', tenant: 'acme', billingCustomer: 'acme', bundleId: 'app' },
  bundle: { id: 'app', version: '1.0.0', digest: DIGEST, capabilities: [], secrets: [], runtime: [] },
  revision: {
    environment: 'local',
    deployment: 'support',
    id,
    bundle: { id: 'app', version: '1.0.0', digest: DIGEST },
    packConfig: {},
    secretRefs: [],
    state,
    createdAt: '2026-11-23T10:00:00Z',
  },
  weight: 0,
});
const live = (revisions: LiveStatus['revisions']): LiveStatus => ({
  environment: 'local',
  observedAt: '2026-11-23T10:00:00Z',
  revisions,
});

describe('detectDrift', () => {
  it('reports a ready revision whose worker is gone, one serving another bundle, and one the store does not know', () => {
    const drifts = detectDrift(
      { environment: ENV, targets: [t('r1', 'ready'), t('r2', 'ready'), t('r3', 'archived'), t('r4', 'ready')] },
      live([
        { deployment: 'support', tenant: 'acme', revision: 'r1', phase: 'absent', detail: 'process 42 is gone' },
        {
          deployment: 'support',
          tenant: 'acme',
          revision: 'r2',
          phase: 'running',
          bundleDigest: `sha256:${'2'.repeat(64)}`,
        },
        { deployment: 'support', tenant: 'acme', revision: 'r4', phase: 'running', bundleDigest: DIGEST },
        { deployment: 'support', tenant: 'acme', revision: 'r9', phase: 'running' },
      ]),
    );
    expect(drifts.map((d) => d.message)).toEqual([
      'revision r1 of support: store says ready, live is absent (process 42 is gone)',
      `revision r2 of support: live worker serves bundle sha256:${'2'.repeat(64)}, store expects ${DIGEST}`,
      'revision r9 of support: live is running but the store does not know it',
    ]);
  });

  it('finds nothing when the live system agrees with the store', () => {
    expect(
      detectDrift(
        { environment: ENV, targets: [t('r1', 'ready'), t('r2', 'staged'), t('r3', 'archived'), t('r4', 'failed')] },
        live([
          { deployment: 'support', tenant: 'acme', revision: 'r1', phase: 'running', bundleDigest: DIGEST },
          { deployment: 'support', tenant: 'acme', revision: 'r2', phase: 'stopped' },
        ]),
      ),
    ).toEqual([]);
  });
});
