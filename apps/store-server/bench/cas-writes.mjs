// The durable CAS write load shared by bench.mjs and cpu-ab.mjs, driven by autocannon like every other figure of
// the bench: `connections` keep-alive connections write the configs of as many environments (`bench-<slot>`),
// each request with If-Match (the slot's tag from its previous answer) and a fresh Idempotency-Key. A request takes
// a free slot and its answer hands the slot back with the new tag, so no two requests in flight write the same
// environment and every write is a CAS on a tag the client was given. Only 200s count as done.
import { randomUUID } from 'node:crypto';
import autocannon from 'autocannon';

/**
 * Runs the load against `base` and resolves to `{ name, rps, p50, p99, done, bad }` (latency in ms, as autocannon
 * reports it). `etags[slot]` holds each slot's current tag and is kept up to date; `refresh(slot)` (optional)
 * reads a slot's tag afresh, for the slots whose answers were still in flight when the run ended.
 */
export async function casWrites({ name, base, etags, seconds, headers, connections = 32, refresh }) {
  if (etags.length < connections) throw new Error(`casWrites: ${connections} connections need as many slots`);
  const free = etags.map((_, slot) => slot);
  const r = await autocannon({
    url: base,
    connections,
    duration: seconds,
    requests: [
      {
        method: 'PUT',
        setupRequest: (req, context) => {
          const slot = free.pop();
          context.slot = slot;
          req.path = `/v1/environments/bench-${slot}/config`;
          req.body = JSON.stringify({ n: Date.now() });
          req.headers = { ...headers, 'if-match': etags[slot], 'idempotency-key': randomUUID() };
          return req;
        },
        onResponse: (status, body, context, answer) => {
          if (status === 200) etags[context.slot] = answer.ETag ?? answer.etag;
          // A stale tag (a write of the previous run landed after its slot was refreshed): take the current one
          // from the problem body, so one stale slot costs one refused write, not every write of the run.
          else if (status === 412) {
            const current = JSON.parse(body).currentVersion;
            if (typeof current === 'string') etags[context.slot] = `"${current}"`;
          }
          free.push(context.slot);
        },
      },
    ],
  });
  if (refresh !== undefined) {
    // autocannon ends its run without waiting for the answers in flight; let those writes land before reading.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const unanswered = etags.map((_, slot) => slot).filter((slot) => !free.includes(slot));
    for (const slot of unanswered) etags[slot] = await refresh(slot);
  }
  const done = r['2xx'];
  return {
    name,
    rps: done / r.duration,
    p50: r.latency.p50,
    p99: r.latency.p99,
    done,
    bad: r.non2xx + r.errors + r.timeouts,
  };
}
