import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The server's Prometheus metrics, on a registry of their own (several apps may live in one process). */
export interface StoreMetrics {
  readonly registry: Registry;
  readonly requests: Counter<'method' | 'route' | 'status'>;
  readonly latency: Histogram<'method' | 'route'>;
  readonly casConflicts: Counter;
  readonly replays: Counter;
  readonly denials: Counter<'status'>;
  readonly auditLength: Gauge;
}

/**
 * Creates the metrics. `auditLength` is read from the store when Prometheus scrapes, never per request.
 *
 * @example
 * const metrics = createStoreMetrics(async () => (await store.auditHead()).seq);
 * const text = await metrics.registry.metrics();
 */
export function createStoreMetrics(readAuditLength: () => Promise<number>): StoreMetrics {
  const registry = new Registry();
  const requests = new Counter({
    name: 'greentic_store_http_requests_total',
    help: 'HTTP requests by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'greentic_store_http_request_duration_seconds',
    help: 'HTTP request latency by method and route pattern',
    labelNames: ['method', 'route'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const casConflicts = new Counter({
    name: 'greentic_store_cas_conflicts_total',
    help: 'Writes refused because the If-Match tag was stale (412)',
    registers: [registry],
  });
  const replays = new Counter({
    name: 'greentic_store_idempotent_replays_total',
    help: 'Mutating requests answered from the idempotency ledger',
    registers: [registry],
  });
  const denials = new Counter({
    name: 'greentic_store_access_denials_total',
    help: 'Requests refused by authentication (401) or authorization (403)',
    labelNames: ['status'] as const,
    registers: [registry],
  });
  const auditLength = new Gauge({
    name: 'greentic_store_audit_length',
    help: 'Number of entries in the audit chain',
    registers: [registry],
    async collect() {
      try {
        this.set(await readAuditLength());
      } catch {
        // An unreadable store shows up in /readyz; the scrape itself must not fail.
      }
    },
  });
  return { registry, requests, latency, casConflicts, replays, denials, auditLength };
}
