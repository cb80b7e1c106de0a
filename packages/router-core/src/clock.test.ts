import { describe, expect, it } from 'vitest';
import { COARSE_CLOCK_MS, coarseNow } from './clock';

describe('coarseNow', () => {
  it('stays within its resolution of Date.now and moves on once the event loop turns', async () => {
    const before = Date.now();
    const first = coarseNow();
    expect(first).toBeGreaterThanOrEqual(before - COARSE_CLOCK_MS);
    expect(first).toBeLessThanOrEqual(Date.now());
    await new Promise((r) => setTimeout(r, COARSE_CLOCK_MS * 3));
    const later = coarseNow();
    expect(later).toBeGreaterThan(first);
    expect(Date.now() - later).toBeLessThanOrEqual(COARSE_CLOCK_MS * 2);
  });
});
