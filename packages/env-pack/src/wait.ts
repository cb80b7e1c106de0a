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
  const timedOut = (why: string) =>
    new EnvPackError('timeout', `timed out after ${opts.timeoutMs} ms waiting for ${opts.what}${why}`, {
      ...(opts.pack ? { pack: opts.pack } : {}),
      cause: lastError,
    });
  for (;;) {
    opts.signal?.throwIfAborted();
    // A check that never settles (a request without its own timeout) must not turn the wait into a hang.
    const attempt = await settleBefore(check, deadline);
    if (attempt === 'hung') throw timedOut(' (the last attempt was still running)');
    if (attempt.ok) {
      if (attempt.value !== undefined) return attempt.value;
      lastError = undefined;
    } else lastError = attempt.error;
    const left = deadline - Date.now();
    if (left <= 0) throw timedOut(lastError instanceof Error ? ` (last attempt: ${lastError.message})` : '');
    await sleep(Math.min(interval, left), undefined, opts.signal ? { signal: opts.signal } : undefined);
  }
}

/** Run `check` once; `'hung'` when it has not settled by `deadline`. */
async function settleBefore<T>(
  check: () => Promise<T | undefined> | T | undefined,
  deadline: number,
): Promise<{ ok: true; value: T | undefined } | { ok: false; error: unknown } | 'hung'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      Promise.resolve()
        .then(check)
        .then(
          (value) => ({ ok: true as const, value }),
          (error: unknown) => ({ ok: false as const, error }),
        ),
      new Promise<'hung'>((resolve) => {
        timer = setTimeout(() => resolve('hung'), Math.max(0, deadline - Date.now()));
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
