/** Every failure an env-pack reports is one of these codes: typed, never a hang, never a bare string. */
export type EnvPackErrorCode =
  | 'unknown-pack' // the registry has no pack with that id
  | 'duplicate-pack' // two installed packages claim the same id
  | 'invalid-pack' // a package declares a pack that does not fit the contract
  | 'preflight-failed' // a tool, auth or reachability check failed
  | 'credentials' // credentials missing, wrong, or with missing/extra rights
  | 'timeout' // a wait ran out; the message says what it waited for
  | 'unhealthy' // the health gate failed (warm ends in failed)
  | 'refused' // the operation is not allowed in the current state
  | 'conflict' // the live system was changed by someone else (field-manager conflict, drift)
  | 'forbidden' // the provider refused for lack of rights (403)
  | 'not-found' // the live object does not exist where it must
  | 'unavailable' // the provider could not be reached
  | 'unsupported' // the pack does not offer this optional capability
  | 'failed'; // the provider reported a failure not covered above

/**
 * The one error family of env-packs. Messages carry the origin and the object:
 * `[greentic.deployer.local-process] revision r7 of local/support: health check GET /healthz timed out after 5000 ms`.
 */
export class EnvPackError extends Error {
  override readonly name = 'EnvPackError';
  readonly code: EnvPackErrorCode;
  /** The pack id that raised it, when known. */
  readonly pack: string | undefined;
  /** Extra structured facts (e.g. the last log lines, the missing permissions). */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: EnvPackErrorCode,
    message: string,
    options: { pack?: string; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(
      options.pack ? `[${options.pack}] ${message}` : message,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = code;
    this.pack = options.pack;
    this.details = options.details;
  }
}

/** True when `e` is an EnvPackError (optionally of one code). */
export function isEnvPackError(e: unknown, code?: EnvPackErrorCode): e is EnvPackError {
  return e instanceof EnvPackError && (code === undefined || e.code === code);
}
