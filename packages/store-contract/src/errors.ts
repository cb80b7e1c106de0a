import type { ValidationError } from '@greentic/deploy-spec';

/** The stable codes of every failure a store reports. Programs branch on these, never on messages. */
export const STORE_ERROR_CODES = [
  'not-found',
  'version-conflict',
  'precondition-required',
  'invalid',
  'forbidden',
  'idempotency-key-reused',
  'idempotency-in-flight',
  'lifecycle-refused',
  'corrupt',
  'unavailable',
] as const;
export type StoreErrorCode = (typeof STORE_ERROR_CODES)[number];

/**
 * The HTTP status of each code, applied once at the edge (the store server). DESIGN.md "The store" ②③:
 * a stale tag is 412, a missing one 428, a reused idempotency key 422, one still running 409.
 * `corrupt` is 503: the server refuses to serve rotten data until an operator restores it.
 */
export const STORE_ERROR_HTTP_STATUS = {
  'not-found': 404,
  'version-conflict': 412,
  'precondition-required': 428,
  invalid: 400,
  forbidden: 403,
  'idempotency-key-reused': 422,
  'idempotency-in-flight': 409,
  'lifecycle-refused': 409,
  corrupt: 503,
  unavailable: 503,
} as const satisfies Record<StoreErrorCode, number>;

/** Process exit code of each error code, for command-line tools (2 is reserved for usage errors). */
export const STORE_ERROR_EXIT_CODES = {
  'not-found': 3,
  'version-conflict': 4,
  'precondition-required': 4,
  invalid: 5,
  forbidden: 6,
  'idempotency-key-reused': 7,
  'idempotency-in-flight': 7,
  'lifecycle-refused': 8,
  corrupt: 9,
  unavailable: 10,
} as const satisfies Record<StoreErrorCode, number>;

/** Names one stored object: its kind and its key (see {@link ObjectKind} for the key formats). */
export interface StoredObjectName {
  readonly kind: string;
  readonly key: string;
}

/** Why the lifecycle or traffic rules refused a move: the code and sentence of revision-machine. */
export interface RefusalReason {
  readonly code: string;
  readonly message: string;
  /** The revision at fault, when one is. */
  readonly revision?: string;
}

/** Structured facts a caller can act on, per code. All JSON-serializable. */
export interface StoreErrorDetails {
  /** `version-conflict`: the current tag of the object (null when it no longer exists). */
  readonly currentVersion?: string | null;
  /** `invalid`: each problem as a JSON Pointer plus a sentence. */
  readonly errors?: readonly ValidationError[];
  /** `lifecycle-refused`: the refusal of revision-machine (or of the store's own rules). */
  readonly reason?: RefusalReason;
  /** `corrupt`: every object whose stored digest does not match its content. */
  readonly objects?: readonly StoredObjectName[];
  /** `idempotency-key-reused` / `idempotency-in-flight`: the request id of the first call with that key. */
  readonly firstRequestId?: string;
}

/** The JSON form of a StoreError, as the HTTP layer sends it and the client rebuilds it. */
export interface StoreErrorJson {
  readonly code: StoreErrorCode;
  readonly message: string;
  readonly details: StoreErrorDetails;
}

/**
 * The one error family of every store implementation. Messages carry the origin and the object:
 * `[store] revision r7 of zain-prod/support: cannot archive, it holds 2500 bps of traffic`.
 *
 * @example
 * try { await store.getEnvironment('nope'); }
 * catch (e) { if (isStoreError(e, 'not-found')) console.error(e.message); else throw e; }
 */
export class StoreError extends Error {
  override readonly name = 'StoreError';
  readonly code: StoreErrorCode;
  readonly details: StoreErrorDetails;

  constructor(
    code: StoreErrorCode,
    message: string,
    details: StoreErrorDetails = {},
    options: { cause?: unknown } = {},
  ) {
    super(
      message.startsWith('[') ? message : `[store] ${message}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = code;
    this.details = details;
  }

  /** The HTTP status of this error (see {@link STORE_ERROR_HTTP_STATUS}). */
  get status(): number {
    return STORE_ERROR_HTTP_STATUS[this.code];
  }

  toJSON(): StoreErrorJson {
    return { code: this.code, message: this.message, details: this.details };
  }

  /**
   * Rebuild an error from its JSON form (what the HTTP client does with a problem body).
   *
   * @example
   * StoreError.fromJSON({ code: 'not-found', message: '[store] environment x does not exist', details: {} }).code // 'not-found'
   */
  static fromJSON(json: StoreErrorJson): StoreError {
    return new StoreError(json.code, json.message, json.details ?? {});
  }
}

/**
 * True when `e` is a StoreError (optionally of one code).
 *
 * @example
 * isStoreError(new StoreError('corrupt', 'x'), 'corrupt') // true
 */
export function isStoreError(e: unknown, code?: StoreErrorCode): e is StoreError {
  return e instanceof StoreError && (code === undefined || e.code === code);
}

/** True when `code` is one of {@link STORE_ERROR_CODES}. @example isStoreErrorCode('invalid') // true */
export function isStoreErrorCode(code: unknown): code is StoreErrorCode {
  return typeof code === 'string' && (STORE_ERROR_CODES as readonly string[]).includes(code);
}
