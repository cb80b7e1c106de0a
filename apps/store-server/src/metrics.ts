import { Counter, Gauge, type Metric, Registry } from 'prom-client';

/** The server's Prometheus metrics, on a registry of their own (several apps may live in one process). */
export interface StoreMetrics {
  readonly registry: Registry;
  /** Requests by method, route pattern and status, and their latency (`..._requests_total`, `..._duration_seconds`). */
  readonly requests: HttpRequestMetrics;
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
  const requests = new HttpRequestMetrics(registry);
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
  return { registry, requests, casConflicts, replays, denials, auditLength };
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] as const;

/** One (method, route): counts by status and a latency histogram, as plain numbers. */
export interface RouteMeter {
  record(status: number, seconds: number): void;
}

class Meter implements RouteMeter {
  readonly byStatus = new Map<number, number>();
  /** Observations per bucket (not cumulative); the last slot counts those above every bound. */
  readonly buckets = new Float64Array(LATENCY_BUCKETS.length + 1);
  sum = 0;
  count = 0;

  constructor(
    readonly method: string,
    readonly route: string,
  ) {}

  record(status: number, seconds: number): void {
    this.byStatus.set(status, (this.byStatus.get(status) ?? 0) + 1);
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > (LATENCY_BUCKETS[i] as number)) i++;
    this.buckets[i] = (this.buckets[i] as number) + 1;
    this.sum += seconds;
    this.count++;
  }
}

/**
 * The per-request metrics, kept as plain numbers and turned into Prometheus series only when scraped:
 * prom-client validates and hashes the label set on every `inc`/`observe`, which cost more than the rest of the
 * bookkeeping of a request. Exposed on the registry as `greentic_store_http_requests_total{method,route,status}`
 * and the histogram `greentic_store_http_request_duration_seconds{method,route}`.
 *
 * @example
 * metrics.requests.meter('GET', '/v1/environments/:environment').record(200, 0.0004);
 */
export class HttpRequestMetrics {
  private readonly meters = new Map<string, Map<string, Meter>>();

  constructor(registry: Registry) {
    const counterName = 'greentic_store_http_requests_total';
    const histogramName = 'greentic_store_http_request_duration_seconds';
    const counter = {
      name: counterName,
      help: 'HTTP requests by method, route pattern and status',
      type: 'counter',
      aggregator: 'sum',
      get: async () => ({
        ...counter,
        values: this.all().flatMap((m) =>
          [...m.byStatus].map(([status, value]) => ({
            labels: { method: m.method, route: m.route, status: String(status) },
            value,
          })),
        ),
      }),
    };
    const histogram = {
      name: histogramName,
      help: 'HTTP request latency by method and route pattern',
      type: 'histogram',
      aggregator: 'sum',
      get: async () => ({
        ...histogram,
        values: this.all().flatMap((m) => {
          // The same series, in the same label order, as prom-client's Histogram writes.
          const labels = { method: m.method, route: m.route };
          const bucket = `${histogramName}_bucket`;
          let cumulative = 0;
          const series = LATENCY_BUCKETS.map((le, i) => {
            cumulative += m.buckets[i] as number;
            return { labels: { le }, sharedLabels: labels, value: cumulative, metricName: bucket };
          });
          return [
            ...series,
            { labels: { le: '+Inf' }, sharedLabels: labels, value: m.count, metricName: bucket },
            { labels: {}, sharedLabels: labels, value: m.sum, metricName: `${histogramName}_sum` },
            { labels: {}, sharedLabels: labels, value: m.count, metricName: `${histogramName}_count` },
          ];
        }),
      }),
    };
    registry.registerMetric(counter as unknown as Metric);
    registry.registerMetric(histogram as unknown as Metric);
  }

  /** The meter of one method and route pattern (bounded: past 4096 pairs, new ones share one `other` meter). */
  meter(method: string, route: string): RouteMeter {
    let byMethod = this.meters.get(route);
    if (byMethod === undefined) {
      byMethod = new Map();
      this.meters.set(route, byMethod);
    }
    let meter = byMethod.get(method);
    if (meter === undefined) {
      meter = this.size() < 4096 ? new Meter(method, route) : this.overflow();
      byMethod.set(method, meter);
    }
    return meter;
  }

  private overflowMeter: Meter | undefined;

  private overflow(): Meter {
    this.overflowMeter ??= new Meter('other', 'other');
    return this.overflowMeter;
  }

  private size(): number {
    let n = 0;
    for (const byMethod of this.meters.values()) n += byMethod.size;
    return n;
  }

  private all(): Meter[] {
    const out = new Set<Meter>();
    for (const byMethod of this.meters.values()) for (const meter of byMethod.values()) out.add(meter);
    return [...out];
  }
}
