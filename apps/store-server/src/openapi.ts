import { jsonSchemaOf, type SchemaName } from '@greentic/deploy-spec';
import { HTTP_HEADERS, HTTP_ROUTES, type HttpRouteName } from '@greentic/store-contract';

// OpenAPI 3.1 built from the same two sources the server runs on: the route table of the wire contract and
// the JSON Schemas of @greentic/deploy-spec (OpenAPI 3.1 schemas are JSON Schema 2020-12, so they embed as-is).

/** The deploy-spec schema of each route's request body and success body, where one exists. */
const BODIES: Partial<Record<HttpRouteName, { request?: SchemaName; response?: SchemaName }>> = {
  getEnvironment: { response: 'environment' },
  putEnvironment: { request: 'environment', response: 'environment' },
  attachPack: { request: 'pack-ref' },
  publishBundle: { request: 'bundle', response: 'bundle' },
  getBundle: { response: 'bundle' },
  createDeployment: { request: 'deployment', response: 'deployment' },
  getDeployment: { response: 'deployment' },
  setBillingCustomer: { response: 'deployment' },
  stageRevision: { response: 'revision' },
  getRevision: { response: 'revision' },
  transitionRevision: { response: 'revision' },
  getTraffic: { response: 'traffic-split' },
  setTraffic: { request: 'traffic-split', response: 'traffic-split' },
  rollbackTraffic: { response: 'traffic-split' },
  credentialRequirements: { response: 'credentials' },
  recordBootstrap: { request: 'credentials', response: 'credentials' },
  rotateCredentials: { response: 'credentials' },
};

const PAGE_ITEM_SCHEMA: Partial<Record<HttpRouteName, SchemaName>> = {
  listEnvironments: 'environment',
  listAllDeployments: 'deployment',
  listDeployments: 'deployment',
  listRevisions: 'revision',
  listBundles: 'bundle',
};

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

const PROBLEM_SCHEMA = {
  type: 'object',
  description: 'RFC 9457 problem details with a stable code',
  required: ['type', 'title', 'status', 'code', 'detail'],
  properties: {
    type: { type: 'string', format: 'uri' },
    title: { type: 'string' },
    status: { type: 'integer' },
    code: { type: 'string', description: 'stable error code (not-found, version-conflict, …)' },
    detail: { type: 'string' },
    requestId: { type: 'string' },
    currentVersion: { type: ['string', 'null'], description: '412 only: the current version tag' },
    details: { type: 'object' },
  },
};

/**
 * The OpenAPI 3.1 document served at `/openapi.json`.
 *
 * @example
 * const doc = buildOpenApiDocument();
 * doc.openapi; // '3.1.0'
 */
export function buildOpenApiDocument(): Record<string, unknown> {
  const schemas: Record<string, unknown> = { Problem: PROBLEM_SCHEMA };
  const used = new Set<SchemaName>([
    ...Object.values(BODIES).flatMap((b) => [b.request, b.response].filter((x): x is SchemaName => x !== undefined)),
    ...Object.values(PAGE_ITEM_SCHEMA),
    'audit-entry',
  ]);
  for (const name of used) {
    const { $schema: _drop, ...schema } = jsonSchemaOf(name);
    schemas[name] = schema;
  }
  const problem = (description: string) => ({
    description,
    content: { 'application/problem+json': { schema: ref('Problem') } },
  });
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [name, route] of Object.entries(HTTP_ROUTES) as [HttpRouteName, (typeof HTTP_ROUTES)[HttpRouteName]][]) {
    const params = [...route.path.matchAll(/\{([a-z]+)\}/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    const headers = route.mutating
      ? [
          {
            name: HTTP_HEADERS.idempotencyKey,
            in: 'header',
            required: false,
            schema: { type: 'string', maxLength: 200 },
          },
          { name: HTTP_HEADERS.ifMatch, in: 'header', required: false, schema: { type: 'string' } },
          { name: HTTP_HEADERS.ifNoneMatch, in: 'header', required: false, schema: { const: '*' } },
        ]
      : [];
    const query =
      route.shape === 'page'
        ? [
            { name: 'cursor', in: 'query', required: false, schema: { type: 'string' } },
            { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 500 } },
          ]
        : [];
    const bodies = BODIES[name];
    const itemSchema = PAGE_ITEM_SCHEMA[name];
    const success =
      route.shape === 'page'
        ? {
            type: 'object',
            required: ['items', 'nextCursor'],
            properties: {
              items: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: { value: itemSchema ? ref(itemSchema) : {}, version: { type: 'string' } },
                },
              },
              nextCursor: { type: ['string', 'null'] },
            },
          }
        : bodies?.response
          ? ref(bodies.response)
          : name === 'queryAudit'
            ? { type: 'array', items: ref('audit-entry') }
            : {};
    const responses: Record<string, unknown> = {
      [route.mutating ? '200' : '200']: {
        description: route.shape === 'object' ? 'the object; its version tag is the ETag header' : 'success',
        content: { 'application/json': { schema: success } },
      },
      '400': problem('malformed or invalid input'),
      '401': problem('no or unknown credentials (audited)'),
      '403': problem('not allowed for this actor, environment and action (audited)'),
      '404': problem('no such object'),
    };
    if (route.mutating) {
      responses['201'] = { description: 'created', content: { 'application/json': { schema: success } } };
      responses['409'] = problem('idempotency key still running (Retry-After), or a lifecycle rule refused');
      responses['412'] = problem(
        'stale If-Match (currentVersion in the body) or If-None-Match: * on an existing object',
      );
      responses['413'] = problem('body too large');
      responses['422'] = problem('Idempotency-Key reused with a different request');
      responses['428'] = problem('If-Match missing on an update');
    }
    const operation: Record<string, unknown> = {
      operationId: name,
      summary: route.summary,
      parameters: [...params, ...headers, ...query],
      responses,
      security: [{ bearer: [] }],
    };
    if (bodies?.request || (route.mutating && route.method !== 'DELETE')) {
      operation.requestBody = {
        required: route.method === 'PUT',
        content: { 'application/json': { schema: bodies?.request ? ref(bodies.request) : { type: 'object' } } },
      };
    }
    paths[route.path] ??= {};
    (paths[route.path] as Record<string, unknown>)[route.method.toLowerCase()] = operation;
  }
  for (const [path, summary] of [
    ['/healthz', 'Liveness'],
    ['/readyz', 'Readiness: false while integrity is unverified or failed, or while shutting down'],
    ['/metrics', 'Prometheus metrics'],
    ['/openapi.json', 'This document'],
  ] as const) {
    paths[path] = { get: { summary, security: [], responses: { '200': { description: 'ok' } } } };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Greentic store',
      version: '1.0.0',
      description: 'The Greentic deploy control-plane store over HTTP.',
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    paths,
    components: { schemas, securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  };
}
