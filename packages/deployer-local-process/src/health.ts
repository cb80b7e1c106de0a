import { request } from 'node:http';

/** What one GET of the health path said. */
export interface Probe {
  readonly ok: boolean;
  readonly status?: number;
  readonly revision?: string;
  readonly bundleDigest?: string;
  /** Requests the worker says it is answering right now, when its health answer reports `inFlight`. */
  readonly inFlight?: number;
  /** A short sentence for status details and error messages. */
  readonly detail: string;
}

/**
 * GET http://127.0.0.1:<port><path> with a timeout. A worker is healthy when it answers 2xx; the JSON body may
 * carry `revision` and `bundleDigest`, which the caller compares with what it expects, and `inFlight`, which drain
 * waits on.
 */
export async function probe(port: number, path: string, timeoutMs: number): Promise<Probe> {
  return await new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: 'GET', timeout: timeoutMs, headers: { connection: 'close' } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (body.length < 65_536) body += chunk;
        });
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          let json: { revision?: unknown; bundleDigest?: unknown; inFlight?: unknown } = {};
          try {
            json = JSON.parse(body) as typeof json;
          } catch {
            // a health endpoint without JSON is fine; identity is then unknown
          }
          resolve({
            ok: status >= 200 && status < 300,
            status,
            ...(typeof json.revision === 'string' ? { revision: json.revision } : {}),
            ...(typeof json.bundleDigest === 'string' ? { bundleDigest: json.bundleDigest } : {}),
            ...(Number.isInteger(json.inFlight) && (json.inFlight as number) >= 0
              ? { inFlight: json.inFlight as number }
              : {}),
            detail: `GET ${path} answered ${status}`,
          });
        });
        res.on('error', (e) => resolve({ ok: false, detail: `GET ${path} failed: ${e.message}` }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (e: NodeJS.ErrnoException) =>
      resolve({ ok: false, detail: `GET ${path} failed: ${e.code ?? e.message}` }),
    );
    req.end();
  });
}
