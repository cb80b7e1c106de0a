import type { BaseContext } from 'clipanion';

/**
 * What every command runs with. Tests pass their own streams, environment and working folder; the binary passes
 * the process's.
 */
export interface GtcContext extends BaseContext {
  /** The folder relative paths (`-f env.yaml`, `--out dir`) are resolved against. */
  readonly cwd: string;
}

/** True when `stream` is an interactive terminal. */
export function isTty(stream: unknown): boolean {
  return (stream as { isTTY?: boolean } | undefined)?.isTTY === true;
}

/**
 * Colours only on a terminal, never with NO_COLOR set (https://no-color.org: any non-empty value) or TERM=dumb.
 *
 * @example
 * useColor({ NO_COLOR: '1' }, process.stdout) // false
 */
export function useColor(env: Readonly<Record<string, string | undefined>>, stream: unknown): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0') return true;
  if (env.TERM === 'dumb') return false;
  return isTty(stream);
}
