import { setTimeout as sleep } from 'node:timers/promises';
import { EnvPackError } from './errors';

export interface WaitOptions {
  /** What is being waited for, completing "timed out waiting for …". */
  readonly what: string;
  /** Give up after this many milliseconds. Every wait has one; there is no default "forever". */
  readonly timeoutMs: number;
  /** Pause between polls (default 100 ms). */
  readonly intervalMs?: number;
  readonly pack?: string;
  readonly signal?: AbortSignal;
}

/**
 * Poll `check` until it returns a value other than `undefined`, or throw a `timeout` EnvPackError that says
 * what it waited for and for how long. The last poll's error (if any) is kept as the cause.
 *
 * @example
 * const port = await waitFor(async () => (await isListening(p)) ? p : undefined, { what: 'port 8080 to listen', timeoutMs: 5000 });
 */
export async function waitFor<T>(check: () => Promise<T | undefined> | T | undefined, opts: WaitOptions): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  const interval = opts.intervalMs ?? 100;
  let lastError: unknown;
  for (;;) {
    opts.signal?.throwIfAborted();
    try {
      const v = await check();
      if (v !== undefined) return v;
      lastError = undefined;
    } catch (e) {
      lastError = e;
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      const why = lastError instanceof Error ? ` (last attempt: ${lastError.message})` : '';
      throw new EnvPackError('timeout', `timed out after ${opts.timeoutMs} ms waiting for ${opts.what}${why}`, {
        ...(opts.pack ? { pack: opts.pack } : {}),
        cause: lastError,
      });
    }
    await sleep(Math.min(interval, left), undefined, opts.signal ? { signal: opts.signal } : undefined);
  }
}
