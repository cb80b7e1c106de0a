import type { ConfigSource } from './config-source';
import { DispatcherError } from './errors';

/** Options of the store-polling config source. */
export interface StoreConfigSourceOptions {
  /** URL answering GET with the runtime config (JSON) and an ETag. */
  readonly url: string;
  /** Extra request headers, e.g. `authorization`. Never logged, never in errors. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Poll interval while healthy, in ms (default 2000). */
  readonly intervalMs?: number;
  /** Ceiling of the exponential backoff after failures, in ms (default 30000). */
  readonly maxBackoffMs?: number;
  /** Per-request timeout in ms (default 5000). */
  readonly timeoutMs?: number;
  /** Turn the store's answer into a runtime config document (default: the body as is). */
  readonly transform?: (body: unknown) => unknown;
}

/**
 * Follow the runtime config in the store with conditional GETs (`If-None-Match`: an unchanged config costs a 304
 * and no parsing). Failures back off exponentially with jitter up to `maxBackoffMs`, so a fleet of dispatchers
 * never storms a store that is down; the first success returns to the normal interval.
 *
 * @example
 * const source = createStoreConfigSource({ url: 'http://127.0.0.1:7070/v1/environments/local/runtime-config' });
 * const d = await startDispatcher({ configSource: source, listen: '127.0.0.1:8080' });
 */
export function createStoreConfigSource(options: StoreConfigSourceOptions): ConfigSource {
  const intervalMs = options.intervalMs ?? 2000;
  const maxBackoffMs = options.maxBackoffMs ?? 30_000;
  const timeoutMs = options.timeoutMs ?? 5000;
  // The URL may carry credentials (user:pass@); only its origin and path are ever shown.
  const shown = (() => {
    const u = new URL(options.url);
    return `${u.origin}${u.pathname}`;
  })();
  let etag: string | undefined;
  let failures = 0;
  let lastError: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let controller: AbortController | undefined;
  let closed = false;
  let running: Promise<void> = Promise.resolve();

  return {
    description: `store ${shown}`,
    async start(listener) {
      const fail = (message: string, cause?: unknown) => {
        failures++;
        if (message === lastError) return;
        lastError = message;
        listener.onError(new DispatcherError('config-unreadable', message, { cause }));
      };
      const pollOnce = async () => {
        controller = new AbortController();
        const timeout = setTimeout(() => controller?.abort(), timeoutMs);
        try {
          const res = await fetch(options.url, {
            headers: { accept: 'application/json', ...options.headers, ...(etag ? { 'if-none-match': etag } : {}) },
            signal: controller.signal,
          });
          if (res.status === 304) {
            await res.body?.cancel();
            failures = 0;
            return;
          }
          if (!res.ok) {
            await res.body?.cancel();
            fail(`store ${shown} answered ${res.status}; keeping the config in force and retrying with backoff`);
            return;
          }
          const text = await res.text();
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch (cause) {
            fail(`store ${shown} sent a body that is not JSON (${(cause as Error).message})`);
            return;
          }
          failures = 0;
          lastError = undefined;
          etag = res.headers.get('etag') ?? undefined;
          if (!closed) listener.onConfig(options.transform ? options.transform(body) : body, shown);
        } catch (cause) {
          if (closed) return;
          const reason = (cause as Error).name === 'AbortError' ? `no answer within ${timeoutMs} ms` : 'unreachable';
          fail(`store ${shown} ${reason}; keeping the config in force and retrying with backoff`, cause);
        } finally {
          clearTimeout(timeout);
        }
      };
      const schedule = () => {
        if (closed) return;
        const backoff = failures === 0 ? intervalMs : Math.min(maxBackoffMs, intervalMs * 2 ** failures);
        // ±20% jitter spreads a fleet's polls apart.
        const delay = backoff * (0.8 + Math.random() * 0.4);
        timer = setTimeout(() => {
          running = pollOnce().then(schedule);
        }, delay);
        timer.unref();
      };
      running = pollOnce();
      await running;
      schedule();
    },
    async close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      controller?.abort();
      await running.catch(() => {});
    },
  };
}
