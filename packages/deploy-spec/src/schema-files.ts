import { SCHEMAS, type SchemaName } from './model';

/** Base of every published schema's `$id`. */
export const SCHEMA_BASE_URI = 'https://schemas.greentic.ai/deploy-spec/v1/';

/**
 * The plain JSON Schema (draft 2020-12) of one object type, exactly as published in `schemas/<name>.json`.
 *
 * @example
 * const schema = jsonSchemaOf('bundle'); // { $schema: 'https://json-schema.org/draft/2020-12/schema', ... }
 */
export function jsonSchemaOf(name: SchemaName): Record<string, unknown> {
  // JSON round trip drops TypeBox's symbol keys, leaving a plain JSON Schema document.
  const body = JSON.parse(JSON.stringify(SCHEMAS[name])) as Record<string, unknown>;
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: `${SCHEMA_BASE_URI}${name}.json`,
    title: name,
    ...body,
  };
}

/** Names of every published schema. */
export const SCHEMA_NAMES = Object.keys(SCHEMAS) as SchemaName[];
