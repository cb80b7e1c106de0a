/** A source of uniform numbers in [0, 1). `Math.random` is one; `createSeededRandom` gives a reproducible one. */
export type RandomSource = () => number;

/**
 * A small, fast, seedable random source (mulberry32). The same seed gives the same sequence, so tests and
 * replays of a routing run are deterministic. Not for secrets.
 *
 * @example
 * const random = createSeededRandom(42);
 * random(); // always the same first value for seed 42
 */
export function createSeededRandom(seed: number): RandomSource {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
