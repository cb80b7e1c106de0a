import { UsageError } from 'clipanion';
import { CliError } from './cli-error';
import { EXIT_CODES, type ExitFamily, familyOf } from './exit-codes';
import type { Printer } from './output';

/** The shape printed (with `--json`, on stdout) when a command fails. */
export interface ErrorReport {
  readonly error: {
    readonly code: string;
    readonly family: ExitFamily;
    readonly exitCode: number;
    readonly message: string;
    readonly hint?: string;
    readonly details?: Readonly<Record<string, unknown>>;
  };
}

interface CodedError {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  hint?: unknown;
  details?: unknown;
}

/**
 * Turn any error into a report and its exit code. Store and env-pack errors are recognised by their `name` and
 * `code` (not `instanceof`, since packs may load their own copy of a package).
 *
 * @example
 * toReport(new CliError('not-found', 'no environment staging')).error.exitCode // 3
 */
export function toReport(error: unknown): ErrorReport {
  if (error instanceof CliError) {
    return report(error.code, error.family, error.message, error.hint, error.details);
  }
  if (error instanceof UsageError) return report('usage', 'usage', error.message);
  const e = (typeof error === 'object' && error !== null ? error : {}) as CodedError;
  const message = typeof e.message === 'string' ? e.message : String(error);
  const code = typeof e.code === 'string' ? e.code : undefined;
  const details =
    typeof e.details === 'object' && e.details !== null ? (e.details as Record<string, unknown>) : undefined;
  const hint = typeof e.hint === 'string' ? e.hint : undefined;
  if (e.name === 'StoreError' && code) return report(code, familyOf('store', code), message, hint, details);
  if (e.name === 'EnvPackError' && code) return report(code, familyOf('env-pack', code), message, hint, details);
  if (code && /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|ETIMEDOUT|UND_ERR)/.test(code)) {
    return report('unavailable', 'unavailable', message, 'check that the store server is running and reachable');
  }
  return report('failed', 'failed', message);
}

function report(
  code: string,
  family: ExitFamily,
  message: string,
  hint?: string,
  details?: Readonly<Record<string, unknown>>,
): ErrorReport {
  return {
    error: {
      code,
      family,
      exitCode: EXIT_CODES[family],
      message,
      ...(hint ? { hint } : {}),
      ...(details ? { details } : {}),
    },
  };
}

/** Print an error (JSON on stdout with `--json`, else a sentence on stderr) and return its exit code. */
export function reportError(error: unknown, out: Printer, json: boolean): number {
  const r = toReport(error);
  if (json) out.json(r);
  else {
    out.note(`${out.style('red', 'error:')} ${r.error.message}`);
    if (r.error.hint) out.note(`${out.style('yellow', 'next:')}  ${r.error.hint}`);
  }
  return r.error.exitCode;
}
