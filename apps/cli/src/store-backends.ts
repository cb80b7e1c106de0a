import type { GreenticStore } from '@greentic/store-contract';
import { CliError } from './cli-error';

// The two transports of the store, loaded only when a command needs one (kysely, better-sqlite3, pg and the
// HTTP client stay out of `gtc --help`).

/** The embedded SQLite store of this machine (one writer at a time: a second process is refused, not corrupted). */
export async function openLocalStore(file: string): Promise<GreenticStore> {
  const { openSqliteStore } = await import('@greentic/store-sql');
  return openSqliteStore({ file });
}

/**
 * A store server over HTTP. Several URLs (comma-separated) fail over between each other. The server records the
 * token's actor; every change carries the command's idempotency key and the version it read.
 */
export async function openRemoteStore(url: string, token: string): Promise<GreenticStore> {
  const baseUrls = url
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u.length > 0);
  for (const u of baseUrls) {
    if (!/^https?:\/\/[^\s]+$/.test(u)) {
      throw new CliError('usage', `--store-url ${u} is not an http(s) URL`, {
        code: 'invalid',
        hint: 'e.g. --store-url http://127.0.0.1:8787 (or set GREENTIC_STORE_URL)',
      });
    }
  }
  const { createHttpStore } = await import('@greentic/store-contract');
  // Fewer attempts than the library default: an operator at a terminal wants a fast, clear "unavailable".
  return createHttpStore({ baseUrls, token, retry: { attempts: 4, maxDelayMs: 1000 }, timeoutMs: 30_000 });
}
