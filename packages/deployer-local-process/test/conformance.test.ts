import { describeDeployer } from '@greentic/conformance/vitest';
import { afterAll, describe, expect, it } from 'vitest';
import { createConformanceFixtures, type LocalProcessFixtures } from '../src/index';
import { isOurs, readProcStat } from '../src/processes';

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
    // A failing assertion above must not leak workers either.
    for (const pid of fixtures?.spawnedPids() ?? []) {
      const stat = readProcStat(pid);
      if (stat && stat.state !== 'Z') process.kill(pid, 'SIGKILL');
    }
  });
  it('left no worker process running', () => {
    const pids = fixtures?.spawnedPids() ?? [];
    expect(pids.length).toBeGreaterThan(5);
    const alive = pids.filter((pid) => isOurs({ pid, startTime: readProcStat(pid)?.startTime ?? 'x' }));
    expect(alive).toEqual([]);
  });
});
