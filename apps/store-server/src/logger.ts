/** Structured JSON log lines, one object per line. Callers never pass tokens, headers or bodies. */
export interface Logger {
  info(msg: string, fields?: Readonly<Record<string, unknown>>): void;
  warn(msg: string, fields?: Readonly<Record<string, unknown>>): void;
  error(msg: string, fields?: Readonly<Record<string, unknown>>): void;
}

/** Keys whose values are never written, whatever a caller passes. */
const SECRET_KEYS = /authorization|token|secret|password|cookie|key$/i;

function scrub(fields: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (k === 'idempotencyKey') out[k] = v;
    else out[k] = SECRET_KEYS.test(k) ? '[redacted]' : v;
  }
  return out;
}

/**
 * A logger writing JSON lines (`{"time","level","msg",...}`) to a writable (stderr by default).
 *
 * @example
 * const log = jsonLogger();
 * log.info('[store-server] listening', { url: 'http://127.0.0.1:8787' });
 */
export function jsonLogger(write: (line: string) => void = (line) => process.stderr.write(line)): Logger {
  const emit = (level: string, msg: string, fields: Readonly<Record<string, unknown>> = {}) => {
    write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...scrub(fields) })}\n`);
  };
  return {
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
  };
}

/** A logger that drops everything (tests, benches). */
export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
