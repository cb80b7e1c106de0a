// The durable CAS write load shared by bench.mjs and cpu-ab.mjs: `connections` keep-alive connections, each writing
// its own environment's config (`bench-<slot>`) with If-Match (the tag of its previous answer) and a fresh
// Idempotency-Key, back to back for `seconds`. Only 200s count as done.
import { randomUUID } from 'node:crypto';
import http from 'node:http';

/**
 * Runs the load against `base` and resolves to its throughput and latency: `{ name, rps, p50, p99, done, bad }`.
 * `etags[slot]` holds each connection's current tag and is updated as answers arrive.
 */
export async function casWrites({ name, base, etags, seconds, headers, connections = 32 }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const { hostname, port } = new URL(base);
  const latencies = [];
  let bad = 0;
  const end = performance.now() + seconds * 1000;
  const put = (slot, body) =>
    new Promise((ok, fail) => {
      const started = performance.now();
      const req = http.request(
        {
          agent,
          hostname,
          port,
          method: 'PUT',
          path: `/v1/environments/bench-${slot}/config`,
          headers: {
            ...headers,
            'if-match': etags[slot],
            'idempotency-key': randomUUID(),
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            latencies.push(performance.now() - started);
            if (res.statusCode === 200) etags[slot] = res.headers.etag;
            else bad++;
            ok();
          });
        },
      );
      req.on('error', fail);
      req.end(body);
    });
  await Promise.all(
    Array.from({ length: connections }, async (_, slot) => {
      for (let n = 0; performance.now() < end; n++) await put(slot, JSON.stringify({ n }));
    }),
  );
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] * 10) / 10;
  const done = latencies.length - bad;
  return { name, rps: done / seconds, p50: at(0.5), p99: at(0.99), done, bad };
}
