import type { Static } from '@sinclair/typebox';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { PACK_ID_PATTERN } from './identifiers';
import type { SCHEMAS, SchemaName } from './model';
import { jsonSchemaOf } from './schema-files';

/** One problem found in an input: a JSON Pointer into the input and a sentence a person can act on. */
export interface ValidationError {
  /** JSON Pointer (RFC 6901) to the offending value; `/` is the input itself. */
  readonly path: string;
  /** What is wrong and what is expected, e.g. "must be an integer number of basis points (0–10000), got 12.5". */
  readonly message: string;
}

/** Expected failures are values: validation never throws for bad input. */
export type Result<T, E = ValidationError> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly errors: readonly E[] };

// ajv-formats is CommonJS; its default export lands on `.default` under some loaders.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ??
  addFormatsModule) as typeof addFormatsModule;

// One shared ajv instance; each schema is compiled once, on first use.
const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true, verbose: true });
addFormats(ajv, ['date-time']);
const compiled = new Map<SchemaName, ValidateFunction>();

function validatorFor(name: SchemaName): ValidateFunction {
  let fn = compiled.get(name);
  if (!fn) {
    fn = ajv.compile(jsonSchemaOf(name));
    compiled.set(name, fn);
  }
  return fn;
}

/**
 * Validate `input` against one of the published schemas.
 *
 * @example
 * const r = validate('traffic-split', { environment: 'local', deployment: 'support', entries: [{ revision: 'r1', weight: 10000 }] });
 * if (!r.ok) for (const e of r.errors) console.error(`${e.path}: ${e.message}`);
 */
export function validate<N extends SchemaName>(name: N, input: unknown): Result<Static<(typeof SCHEMAS)[N]>> {
  const fn = validatorFor(name);
  if (fn(input)) return { ok: true, value: input as Static<(typeof SCHEMAS)[N]> };
  return { ok: false, errors: describeErrors(fn.errors ?? [], input) };
}

/** Format validation errors the way the CLI and server print them: `path: message`, one per line. */
export function formatErrors(errors: readonly ValidationError[]): string {
  return errors.map((e) => `${e.path}: ${e.message}`).join('\n');
}

function valueAt(root: unknown, pointer: string): unknown {
  if (pointer === '') return root;
  let cur: unknown = root;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

const KEY_DESCRIPTIONS: Record<string, string> = {
  [PACK_ID_PATTERN]: 'env-pack ids such as greentic.deployer.k8s',
  '^[A-Za-z0-9_.-]{1,128}$': 'names of letters, digits, _ . or - (1–128 characters)',
  '^[A-Za-z0-9_./-]{1,128}$': 'names of letters, digits, _ . / or - (1–128 characters)',
};

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  integer: 'an integer',
  boolean: 'true or false',
  object: 'an object',
  array: 'an array',
  null: 'null',
};

function sentenceFor(err: ErrorObject, root: unknown): ValidationError | undefined {
  const path = err.instancePath || '/';
  const value = valueAt(root, err.instancePath);
  const description = (err.parentSchema as { description?: string } | undefined)?.description;
  switch (err.keyword) {
    case 'required': {
      const missing = (err.params as { missingProperty: string }).missingProperty;
      const prop = (err.parentSchema as { properties?: Record<string, { description?: string }> }).properties?.[
        missing
      ];
      const what = prop?.description ? `: ${prop.description}` : '';
      return { path: `${err.instancePath}/${escapePointer(missing)}`, message: `is required${what}` };
    }
    case 'additionalProperties': {
      const extra = (err.params as { additionalProperty: string }).additionalProperty;
      const parent = err.parentSchema as { properties?: object; patternProperties?: Record<string, unknown> };
      const keyPattern = Object.keys(parent.patternProperties ?? {})[0];
      if (keyPattern !== undefined) {
        return {
          path: `${err.instancePath}/${escapePointer(extra)}`,
          message: `is not an allowed key here: keys must be ${KEY_DESCRIPTIONS[keyPattern] ?? `match /${keyPattern}/`}`,
        };
      }
      const allowed = Object.keys(parent.properties ?? {});
      return {
        path: `${err.instancePath}/${escapePointer(extra)}`,
        message: `is not a known property; allowed here: ${allowed.join(', ') || 'none'} (remove it or fix its spelling)`,
      };
    }
    case 'type': {
      const expected = description ?? TYPE_NAMES[(err.params as { type: string }).type] ?? String(err.params);
      return { path, message: `must be ${expected}, got ${show(value)}` };
    }
    case 'uniqueItems': {
      const { i, j } = err.params as { i: number; j: number };
      return { path, message: `must not repeat items: items ${j} and ${i} are the same` };
    }
    case 'minItems':
    case 'maxItems':
    case 'minLength':
    case 'maxLength': {
      const limit = (err.params as { limit: number }).limit;
      const what = err.keyword.endsWith('Items') ? 'items' : 'characters';
      const bound = err.keyword.startsWith('min') ? 'at least' : 'at most';
      return {
        path,
        message: `must have ${bound} ${limit} ${what}${description ? ` (${description})` : ''}, got ${show(value)}`,
      };
    }
    case 'const':
    case 'enum':
    case 'pattern':
    case 'format':
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
    case 'multipleOf':
      return { path, message: `must be ${description ?? err.message ?? 'valid'}, got ${show(value)}` };
    case 'anyOf':
    case 'oneOf':
      return { path, message: `must be ${description ?? 'one of the allowed shapes'}, got ${show(value)}` };
    case 'propertyNames':
      return undefined; // reported by the nested pattern error on the key itself
    default:
      return { path, message: `${err.message ?? 'is invalid'}${description ? ` (expected ${description})` : ''}` };
  }
}

/** Turn raw ajv errors into one sentence per offending path. */
function describeErrors(errors: readonly ErrorObject[], root: unknown): ValidationError[] {
  // A union (anyOf) reports every branch's failure; keep only the union's own summary for those paths.
  const unionPaths = new Set(
    errors.filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf').map((e) => e.instancePath),
  );
  const out: ValidationError[] = [];
  const seen = new Set<string>();
  for (const err of errors) {
    if (err.keyword !== 'anyOf' && err.keyword !== 'oneOf' && unionPaths.has(err.instancePath)) continue;
    if (err.keyword === 'propertyNames' || err.propertyName !== undefined) {
      const key = err.propertyName ?? '';
      const e = {
        path: `${err.instancePath}/${escapePointer(key)}`,
        message: `is not an allowed key name: use letters, digits, _ . or - (1–128 characters)`,
      };
      if (err.keyword !== 'propertyNames' && !seen.has(e.path)) {
        seen.add(e.path);
        out.push(e);
      }
      continue;
    }
    const e = sentenceFor(err, root);
    // One sentence per path: the first failing rule is the one to fix first.
    if (!e || seen.has(e.path)) continue;
    seen.add(e.path);
    out.push(e);
  }
  return out;
}
