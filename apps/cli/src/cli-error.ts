import type { ExitFamily } from './exit-codes';

/**
 * The CLI's own error: a message naming the object, the next step to take, and the exit family.
 * Errors from the store and from env-packs are translated into this at the edge (report-error.ts).
 */
export class CliError extends Error {
  override readonly name = 'CliError';
  readonly family: ExitFamily;
  /** Stable machine code (`usage`, `not-found`, `version-conflict`, `not-converged`, …). */
  readonly code: string;
  /** The command to run next, or what to do, when there is one. */
  readonly hint: string | undefined;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    family: ExitFamily,
    message: string,
    options: { code?: string; hint?: string; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.family = family;
    this.code = options.code ?? family;
    this.hint = options.hint;
    this.details = options.details;
  }
}
