import { describeDeployer } from '@greentic/conformance/vitest';
import { afterAll, describe, expect, it } from 'vitest';
import { createConformanceFixtures, type LocalProcessFixtures } from '../src/index';
import { isOurs } from '../src/processes';

// The reference deployer passes the whole suite with real worker processes, and leaves none behind.
let fixtures: LocalProcessFixtures | undefined;

describeDeployer({
  name: 'greentic.deployer.local-process',
  create: () => {
    fixtures = createConformanceFixtures();
    return fixtures;
  },
});

describe('after the conformance run', () => {
  afterAll(() => {
    // A failing assertion above must not leak workers either (only our own workers are signalled, never a reused pid).
    for (const w of fixtures?.spawnedWorkers() ?? []) if (isOurs(w)) process.kill(w.pid, 'SIGKILL');
  });
  it('left no worker process running', () => {
    const workers = fixtures?.spawnedWorkers() ?? [];
    expect(workers.length).toBeGreaterThan(5);
    expect(workers.filter((w) => isOurs(w)).map((w) => w.pid)).toEqual([]);
  });
});
