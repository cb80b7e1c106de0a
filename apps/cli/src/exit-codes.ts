// One table maps every error code the CLI can meet to an exit code family (STYLE.md §6: applied once, at the
// edge). Scripts branch on the family, people read the message. The README lists the same table.

/** Exit code families, stable across releases. */
export const EXIT_CODES = {
  ok: 0,
  /** Something failed that no other family describes (a bug, a provider failure). */
  failed: 1,
  /** The command line or an input file is wrong; nothing was changed. */
  usage: 2,
  /** The environment, deployment, revision, bundle, pack or secret does not exist. */
  'not-found': 3,
  /** Someone else changed it first, or the lifecycle refuses the move; re-read and retry. */
  conflict: 4,
  /** The token is missing, wrong, or lacks the right for this environment and action. */
  forbidden: 5,
  /** The store, a provider or a worker could not be reached in time. */
  unavailable: 6,
  /** A check ran and failed: `env apply --check`, conformance, audit/store verify, a health gate, drift. */
  'check-failed': 7,
} as const;

export type ExitFamily = keyof typeof EXIT_CODES;

/**
 * Store codes (StoreError, @greentic/store-contract) and env-pack codes (EnvPackError, @greentic/env-pack) →
 * exit family. Keys are `<origin>:<code>`; an unknown code falls back to `failed`.
 */
export const ERROR_FAMILIES: Readonly<Record<string, ExitFamily>> = {
  'store:not-found': 'not-found',
  'store:version-conflict': 'conflict',
  'store:precondition-required': 'conflict',
  'store:idempotency-key-reused': 'conflict',
  'store:idempotency-in-flight': 'conflict',
  'store:lifecycle-refused': 'conflict',
  'store:invalid': 'usage',
  'store:forbidden': 'forbidden',
  'store:unauthorized': 'forbidden',
  'store:corrupt': 'check-failed',
  'store:unavailable': 'unavailable',
  'env-pack:unknown-pack': 'not-found',
  'env-pack:not-found': 'not-found',
  'env-pack:refused': 'conflict',
  'env-pack:conflict': 'conflict',
  'env-pack:forbidden': 'forbidden',
  'env-pack:credentials': 'forbidden',
  'env-pack:unavailable': 'unavailable',
  'env-pack:timeout': 'unavailable',
  'env-pack:unhealthy': 'check-failed',
  'env-pack:preflight-failed': 'check-failed',
  'env-pack:unsupported': 'usage',
  'env-pack:duplicate-pack': 'failed',
  'env-pack:invalid-pack': 'failed',
  'env-pack:failed': 'failed',
};

/**
 * The exit family for an error code of a given origin.
 *
 * @example
 * familyOf('store', 'version-conflict') // 'conflict'
 */
export function familyOf(origin: 'store' | 'env-pack', code: string): ExitFamily {
  return ERROR_FAMILIES[`${origin}:${code}`] ?? 'failed';
}
