import type { IntegrityReport } from '@greentic/store-contract';

/** Integrity as `/readyz` reports it: not ready until a check passed, and not ready again after one failed. */
export type IntegrityState = 'unverified' | 'ok' | 'failed';

/** Mutable readiness shared by the app (`/readyz`, the integrity route) and the server (startup check, shutdown). */
export interface HealthState {
  integrity: IntegrityState;
  /** Set when shutting down: `/readyz` turns false so load balancers stop sending new requests. */
  draining: boolean;
  /** The last integrity report, for `/readyz`'s body. */
  lastReport: Pick<IntegrityReport, 'ok' | 'objectsChecked' | 'corrupt'> | null;
}

/**
 * A fresh readiness state (integrity unverified).
 *
 * @example
 * const health = createHealthState();
 * health.integrity = 'ok';
 */
export function createHealthState(): HealthState {
  return { integrity: 'unverified', draining: false, lastReport: null };
}

/** Records an integrity report in the readiness state. */
export function recordIntegrity(health: HealthState, report: IntegrityReport): void {
  health.integrity = report.ok ? 'ok' : 'failed';
  health.lastReport = { ok: report.ok, objectsChecked: report.objectsChecked, corrupt: report.corrupt };
}
