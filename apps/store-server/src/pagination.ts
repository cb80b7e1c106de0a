import { MAX_PAGE_SIZE, type Page, type Versioned } from '@greentic/store-contract';
import { HttpProblem } from './problem';

/** Encodes a position (the key of the last item of a page) as an opaque cursor. */
function encodeCursor(key: string): string {
  return Buffer.from(JSON.stringify({ k: key }), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (typeof parsed === 'object' && parsed !== null && typeof (parsed as { k?: unknown }).k === 'string') {
      return (parsed as { k: string }).k;
    }
  } catch {
    // fall through to the refusal below
  }
  throw new HttpProblem(
    400,
    'invalid',
    `[store-server] cursor ${JSON.stringify(cursor.slice(0, 64))} is not one this server issued; list again without it`,
  );
}

/**
 * Parses `?limit=` (1–500, default 500).
 *
 * @example
 * pageLimit('50'); // 50
 */
export function pageLimit(raw: string | undefined): number {
  if (raw === undefined) return MAX_PAGE_SIZE;
  if (!/^[0-9]{1,4}$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_PAGE_SIZE) {
    throw new HttpProblem(
      400,
      'invalid',
      `[store-server] limit must be an integer from 1 to ${MAX_PAGE_SIZE}, got ${JSON.stringify(raw.slice(0, 32))}`,
    );
  }
  return Number(raw);
}

/**
 * One page of a list in the store's order. The cursor names the last item returned, so items inserted or
 * removed elsewhere in the list never make a page repeat or skip an item that stayed.
 *
 * @example
 * const page = paginate(items, (v) => v.name, undefined, 100);
 */
export function paginate<T>(
  items: readonly Versioned<T>[],
  keyOf: (value: T) => string,
  cursor: string | undefined,
  limit: number,
): Page<T> {
  let start = 0;
  if (cursor !== undefined) {
    const after = decodeCursor(cursor);
    const index = items.findIndex((item) => keyOf(item.value) === after);
    // The item the cursor named is gone: continue after the keys that sort before it.
    start = index >= 0 ? index + 1 : items.findIndex((item) => keyOf(item.value) > after);
    if (start < 0) start = items.length;
  }
  const slice = items.slice(start, start + limit);
  const last = slice.at(-1);
  const more = start + limit < items.length;
  return { items: slice, nextCursor: more && last !== undefined ? encodeCursor(keyOf(last.value)) : null };
}
