import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createStoreMetrics } from './metrics';

describe('per-request metrics', () => {
  it('expose exactly the series prom-client would for the same requests', async () => {
    const metrics = createStoreMetrics(async () => 0);
    const reference = new Registry();
    const counter = new Counter({
      name: 'greentic_store_http_requests_total',
      help: 'HTTP requests by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      registers: [reference],
    });
    const histogram = new Histogram({
      name: 'greentic_store_http_request_duration_seconds',
      help: 'HTTP request latency by method and route pattern',
      labelNames: ['method', 'route'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [reference],
    });
    const requests: [string, string, number, number][] = [
      ['GET', '/v1/environments/:environment', 200, 0.0003],
      ['GET', '/v1/environments/:environment', 200, 0.0005],
      ['GET', '/v1/environments/:environment', 404, 0.02],
      ['PUT', '/v1/environments/:environment', 201, 3],
      ['DELETE', 'unmatched', 405, 0.001],
    ];
    for (const [method, route, status, seconds] of requests) {
      metrics.requests.meter(method, route).record(status, seconds);
      counter.labels(method, route, String(status)).inc();
      histogram.labels(method, route).observe(seconds);
    }
    const lines = async (registry: Registry) =>
      (await registry.metrics())
        .split('\n')
        .filter((l) => l.includes('_http_request'))
        .sort();
    expect(await lines(metrics.registry)).toEqual(await lines(reference));
  });
});
