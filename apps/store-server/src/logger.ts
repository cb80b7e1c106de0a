/** Structured JSON log lines, one object per line. Callers never pass tokens, headers or bodies. */
export interface Logger {
  info(msg: string, fields?: Readonly<Record<string, unknown>>): void;
  warn(msg: string, fields?: Readonly<Record<string, unknown>>): void;
  error(msg: string, fields?: Readonly<Record<string, unknown>>): void;
}

/** Keys whose values are never written, whatever a caller passes. */
const SECRET_KEYS = /authorization|token|secret|password|cookie|key$/i;

/** Per field name, whether its value is redacted (field names are few: decided once each). */
const redacted = new Map<string, boolean>();

function isRedacted(key: string): boolean {
  let secret = redacted.get(key);
  if (secret === undefined) {
    secret = key !== 'idempotencyKey' && SECRET_KEYS.test(key);
    if (redacted.size < 1024) redacted.set(key, secret);
  }
  return secret;
}

/** The time of a line: one ISO string per millisecond (lines logged in the same millisecond share it). */
let isoMs = Number.NaN;
let isoText = '';

function isoNow(): string {
  const now = Date.now();
  if (now !== isoMs) {
    isoMs = now;
    isoText = new Date(now).toISOString();
  }
  return isoText;
}

function scrub(fields: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k in fields) {
    if (Object.hasOwn(fields, k)) out[k] = isRedacted(k) ? '[redacted]' : fields[k];
  }
  return out;
}

/**
 * Lines for stderr waiting for the end of this turn of the event loop: one write() per turn instead of one per
 * request (stderr on a file or pipe writes synchronously). An error line is written at once, with everything
 * before it, and whatever is pending is written when the process exits.
 */
let pending = '';
let flushScheduled = false;
let exitHooked = false;

function flushStderr(): void {
  flushScheduled = false;
  if (pending.length === 0) return;
  const text = pending;
  pending = '';
  process.stderr.write(text);
}

function toStderr(line: string, urgent: boolean): void {
  pending += line;
  if (!exitHooked) {
    exitHooked = true;
    process.once('exit', flushStderr);
  }
  if (urgent || pending.length >= 64 * 1024) flushStderr();
  else if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flushStderr);
  }
}

/**
 * A logger writing JSON lines (`{"time","level","msg",...}`). Given a `write`, each line is handed to it as it
 * is logged; by default lines go to stderr, written together once per turn of the event loop (errors at once).
 *
 * @example
 * const log = jsonLogger();
 * log.info('[store-server] listening', { url: 'http://127.0.0.1:8787' });
 */
export function jsonLogger(write?: (line: string) => void): Logger {
  const emit = (level: string, msg: string, fields: Readonly<Record<string, unknown>> = {}) => {
    const line = `${JSON.stringify({ time: isoNow(), level, msg, ...scrub(fields) })}\n`;
    if (write !== undefined) write(line);
    else toStderr(line, level === 'error');
  };
  return {
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
  };
}

/** A logger that drops everything (tests, benches). */
export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
