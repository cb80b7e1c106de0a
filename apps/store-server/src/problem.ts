// RFC 9457 problem details: every error this server sends is `application/problem+json` with a stable `code`.

/** Base URI of the `type` member of every problem this server sends. */
export const PROBLEM_TYPE_BASE = 'https://greentic.ai/problems/';

/** Media type of RFC 9457 problem details. */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** The body of a problem response (RFC 9457 §3 members plus Greentic's `code` and `requestId`). */
export interface ProblemBody {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  readonly instance?: string;
  readonly requestId?: string;
  readonly [extension: string]: unknown;
}

/**
 * An HTTP-level refusal raised by the server itself (bad JSON, missing precondition, denied access…).
 * Store failures keep their own `StoreError` type; both become problem+json in the one `onError`.
 *
 * @example
 * throw new HttpProblem(428, 'precondition-required', '[store-server] PUT /v1/environments/dev needs If-Match');
 */
export class HttpProblem extends Error {
  readonly status: number;
  readonly code: string;
  readonly extra: Readonly<Record<string, unknown>>;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    status: number,
    code: string,
    detail: string,
    options: {
      extra?: Record<string, unknown>;
      headers?: Record<string, string>;
      cause?: unknown;
    } = {},
  ) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HttpProblem';
    this.status = status;
    this.code = code;
    this.extra = options.extra ?? {};
    this.headers = options.headers ?? {};
  }
}

/** Short titles per status (RFC 9110 reason phrases). */
const TITLES: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  428: 'Precondition Required',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/**
 * Builds a problem body.
 *
 * @example
 * const body = problemBody(404, 'not-found', 'environment dev does not exist', { requestId: 'r1' });
 */
export function problemBody(
  status: number,
  code: string,
  detail: string,
  extra: Readonly<Record<string, unknown>> = {},
): ProblemBody {
  return {
    type: `${PROBLEM_TYPE_BASE}${code}`,
    title: TITLES[status] ?? 'Error',
    status,
    code,
    detail,
    ...extra,
  };
}

/**
 * Builds a complete problem+json `Response`.
 *
 * @example
 * return problemResponse(413, 'too-large', 'the body exceeds 1048576 bytes', { requestId });
 */
export function problemResponse(
  status: number,
  code: string,
  detail: string,
  extra: Readonly<Record<string, unknown>> = {},
  headers: Readonly<Record<string, string>> = {},
): Response {
  return new Response(JSON.stringify(problemBody(status, code, detail, extra)), {
    status,
    headers: { 'content-type': PROBLEM_CONTENT_TYPE, ...headers },
  });
}
