/** Every failure the dispatcher reports has one of these codes; the table below maps each to HTTP once. */
export type DispatcherErrorCode =
  | 'no-route' // no deployment serves this host / path / tenant
  | 'no-ready-revision' // the deployment has no Ready revision with weight for a new session
  | 'not-ready' // no runtime config loaded yet
  | 'upstream-unavailable' // the revision could not be reached or broke the connection
  | 'upstream-timeout' // the revision did not answer in time
  | 'invalid-config' // a runtime config was refused (the previous one stays in force)
  | 'config-unreadable' // a runtime config could not be read or parsed
  | 'invalid-option'; // a start option or CLI flag is wrong

/** The one error family of the dispatcher. Messages carry the origin and the object; never a secret. */
export class DispatcherError extends Error {
  override readonly name = 'DispatcherError';
  readonly code: DispatcherErrorCode;

  constructor(code: DispatcherErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(`[dispatcher] ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

/** HTTP status and problem title per code (RFC 9457 problem details), applied once at the edge. */
export const PROBLEMS = {
  'no-route': { status: 404, title: 'No deployment serves this request' },
  'no-ready-revision': { status: 503, title: 'No ready revision' },
  'not-ready': { status: 503, title: 'Dispatcher not ready' },
  'upstream-unavailable': { status: 502, title: 'Upstream unavailable' },
  'upstream-timeout': { status: 504, title: 'Upstream timeout' },
  'invalid-config': { status: 500, title: 'Invalid runtime config' },
  'config-unreadable': { status: 500, title: 'Runtime config unreadable' },
  'invalid-option': { status: 500, title: 'Invalid option' },
} as const satisfies Record<DispatcherErrorCode, { status: number; title: string }>;

/** The problem+json body for `code`, with a detail sentence. */
export function problemBody(code: DispatcherErrorCode, detail: string): string {
  const p = PROBLEMS[code];
  return JSON.stringify({
    type: `https://greentic.dev/problems/dispatcher/${code}`,
    title: p.title,
    status: p.status,
    code,
    detail,
  });
}
