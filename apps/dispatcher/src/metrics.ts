import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Per-revision counters, created once per revision and kept across reloads. */
export interface RevisionStats {
  inFlight: number;
  readonly requests: { inc(): void };
  readonly latency: { observe(seconds: number): void };
  readonly labels: { tenant: string; deployment: string; revision: string };
}

/** The dispatcher's Prometheus metrics (own registry, so several dispatchers can live in one process). */
export interface DispatcherMetrics {
  readonly registry: Registry;
  /** The stats of a revision, created on first use. */
  statsFor(key: string, tenant: string, deployment: string, revision: string): RevisionStats;
  /** Count an error answered for a revision (or for no revision: `-`). */
  countError(tenant: string, deployment: string, revision: string, code: string): void;
  /** Every revision seen, by key. */
  readonly stats: ReadonlyMap<string, RevisionStats>;
  /** Forget a revision that left the config and has nothing in flight. */
  forget(key: string): void;
  readonly configGeneration: { set(value: number): void };
  readonly configReloads: { inc(labels: { outcome: string }): void };
}

/**
 * Create the metric set: requests, latency histogram and errors per revision, plus reload counters.
 *
 * @example
 * const m = createMetrics();
 * m.statsFor('acme/support/r1', 'acme', 'support', 'r1').requests.inc();
 */
export function createMetrics(): DispatcherMetrics {
  const registry = new Registry();
  const labelNames = ['tenant', 'deployment', 'revision'] as const;
  const requests = new Counter({
    name: 'greentic_dispatcher_requests_total',
    help: 'Requests proxied to a revision',
    labelNames,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'greentic_dispatcher_request_duration_seconds',
    help: 'Time from receiving a request to the end of the proxied response, per revision',
    labelNames,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const errors = new Counter({
    name: 'greentic_dispatcher_errors_total',
    help: 'Requests answered with a dispatcher error (problem+json), per revision and code',
    labelNames: [...labelNames, 'code'],
    registers: [registry],
  });
  const stats = new Map<string, RevisionStats>();
  new Gauge({
    name: 'greentic_dispatcher_in_flight_requests',
    help: 'Requests in flight per revision (a draining revision is empty when this and its pins reach 0)',
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of stats.values()) this.set(s.labels, s.inFlight);
    },
  });
  const configGeneration = new Gauge({
    name: 'greentic_dispatcher_config_generation',
    help: 'Generation of the runtime config in force',
    registers: [registry],
  });
  return {
    registry,
    stats,
    statsFor(key, tenant, deployment, revision) {
      let s = stats.get(key);
      if (s === undefined) {
        const labels = { tenant, deployment, revision };
        s = { inFlight: 0, requests: requests.labels(labels), latency: latency.labels(labels), labels };
        stats.set(key, s);
      }
      return s;
    },
    countError(tenant, deployment, revision, code) {
      errors.inc({ tenant, deployment, revision, code });
    },
    forget(key) {
      const s = stats.get(key);
      if (s === undefined || s.inFlight > 0) return;
      stats.delete(key);
      // A retired revision's series end here, so label cardinality does not grow with every deploy.
      requests.remove(s.labels);
      latency.remove(s.labels);
    },
    configGeneration,
    configReloads: new Counter({
      name: 'greentic_dispatcher_config_reloads_total',
      help: 'Runtime config reloads by outcome (applied, refused, unreadable)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
  };
}
