import { describe, expect, it } from 'vitest';
import { isEnvPackError } from './errors';
import { waitFor } from './wait';

describe('waitFor', () => {
  it('returns the first defined value', async () => {
    let n = 0;
    expect(
      await waitFor(() => (++n >= 3 ? n : undefined), { what: 'three polls', timeoutMs: 2_000, intervalMs: 5 }),
    ).toBe(3);
  });

  it('times out with a typed error saying what it waited for and the last failure', async () => {
    const err = await waitFor(
      () => {
        throw new Error('connection refused');
      },
      { what: 'GET /healthz of r7 to answer 200', timeoutMs: 60, intervalMs: 10, pack: 'greentic.deployer.x' },
    ).catch((e: unknown) => e);
    expect(isEnvPackError(err, 'timeout')).toBe(true);
    expect((err as Error).message).toBe(
      '[greentic.deployer.x] timed out after 60 ms waiting for GET /healthz of r7 to answer 200 (last attempt: connection refused)',
    );
  });

  it('times out even when a check never settles, saying so', async () => {
    const started = Date.now();
    const err = await waitFor(() => new Promise<undefined>(() => {}), {
      what: 'the worker to answer',
      timeoutMs: 80,
    }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(isEnvPackError(err, 'timeout')).toBe(true);
    expect((err as Error).message).toBe(
      'timed out after 80 ms waiting for the worker to answer (the last attempt was still running)',
    );
  });
});
