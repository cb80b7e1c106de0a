import { Counter, Gauge, Registry } from 'prom-client';

/** One exported sample, in the shape prom-client's registry formats (`metricName` for _bucket/_sum/_count). */
interface Sample {
  readonly metricName?: string;
  readonly labels: Readonly<Record<string, string | number>>;
  readonly value: number;
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** Per-revision counters, created once per revision and kept across reloads while the revision is live. */
export interface RevisionStats {
  inFlight: number;
  /** Count one finished request and its duration. Plain arithmetic: the hot path never touches prom-client. */
  record(seconds: number): void;
  readonly labels: { tenant: string; deployment: string; revision: string };
}

interface RevisionCounters extends RevisionStats {
  requests: number;
  latencySum: number;
  /** Per-bucket counts (not cumulative); the export makes them cumulative. */
  readonly latencyCounts: Float64Array;
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
  /** Forget a revision that left the config and has nothing in flight: its series end. */
  forget(key: string): void;
  readonly configGeneration: { set(value: number): void };
  readonly configReloads: { inc(labels: { outcome: string }): void };
}

/**
 * Create the metric set: requests, latency histogram, errors and in-flight per revision, plus reload counters.
 * Requests and latency are kept as plain numbers per revision and turned into Prometheus series when scraped
 * (prom-client's labelled `inc`/`observe` hash the labels on every call, a cost paid per proxied request).
 *
 * @example
 * const m = createMetrics();
 * m.statsFor('acme/support/r1', 'acme', 'support', 'r1').record(0.004);
 */
export function createMetrics(): DispatcherMetrics {
  const registry = new Registry();
  const labelNames = ['tenant', 'deployment', 'revision'] as const;
  const stats = new Map<string, RevisionCounters>();

  const requestsName = 'greentic_dispatcher_requests_total';
  registry.registerMetric(
    customMetric(requestsName, 'Requests proxied to a revision', 'counter', () =>
      [...stats.values()].map((s) => ({ labels: { ...s.labels }, value: s.requests })),
    ),
  );
  const latencyName = 'greentic_dispatcher_request_duration_seconds';
  registry.registerMetric(
    customMetric(
      latencyName,
      'Time from receiving a request to the end of the proxied response, per revision',
      'histogram',
      () => {
        const values: Sample[] = [];
        for (const s of stats.values()) {
          let cumulative = 0;
          LATENCY_BUCKETS.forEach((le, i) => {
            cumulative += s.latencyCounts[i]!;
            values.push({ metricName: `${latencyName}_bucket`, labels: { le, ...s.labels }, value: cumulative });
          });
          values.push({ metricName: `${latencyName}_bucket`, labels: { le: '+Inf', ...s.labels }, value: s.requests });
          values.push({ metricName: `${latencyName}_sum`, labels: { ...s.labels }, value: s.latencySum });
          values.push({ metricName: `${latencyName}_count`, labels: { ...s.labels }, value: s.requests });
        }
        return values;
      },
    ),
  );
  const errors = new Counter({
    name: 'greentic_dispatcher_errors_total',
    help: 'Requests answered with a dispatcher error (problem+json), per revision and code',
    labelNames: [...labelNames, 'code'],
    registers: [registry],
  });
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
        const counters: RevisionCounters = {
          inFlight: 0,
          requests: 0,
          latencySum: 0,
          latencyCounts: new Float64Array(LATENCY_BUCKETS.length),
          labels: { tenant, deployment, revision },
          record(seconds) {
            counters.requests++;
            counters.latencySum += seconds;
            for (let i = 0; i < LATENCY_BUCKETS.length; i++) {
              if (seconds <= LATENCY_BUCKETS[i]!) {
                counters.latencyCounts[i]!++;
                return;
              }
            }
          },
        };
        s = counters;
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

/** A metric whose values are computed when scraped (prom-client's registry accepts any object with `get`). */
function customMetric(
  name: string,
  help: string,
  type: 'counter' | 'histogram',
  values: () => Sample[],
): Parameters<Registry['registerMetric']>[0] {
  const metric = {
    name,
    help,
    type,
    aggregator: 'sum',
    get: async () => ({ name, help, type, aggregator: 'sum', values: values() }),
  };
  return metric as unknown as Parameters<Registry['registerMetric']>[0];
}
