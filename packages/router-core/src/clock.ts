/**
 * A millisecond clock that reads `Date.now()` at most once per `COARSE_CLOCK_MS` while it is being used, like
 * nginx's cached time: per-request code (pin TTLs, cookie expiry) pays a variable read instead of a clock call.
 * The value lags real time by at most `COARSE_CLOCK_MS` plus however long the event loop is blocked; it never
 * keeps a process alive (the timer is unref'd) and costs nothing when idle (no timer unless it was read).
 *
 * @example
 * const pins = createMemoryPinStore({ now: coarseNow }); // the default already
 */
export function coarseNow(): number {
  if (fresh) return cached;
  cached = Date.now();
  fresh = true;
  const timer = setTimeout(expire, COARSE_CLOCK_MS);
  timer.unref?.();
  return cached;
}

/** The resolution of `coarseNow`, in milliseconds. */
export const COARSE_CLOCK_MS = 25;

let cached = 0;
let fresh = false;
function expire(): void {
  fresh = false;
}
