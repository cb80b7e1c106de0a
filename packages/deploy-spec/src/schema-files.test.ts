import { describe, expect, it } from 'vitest';
import { jsonSchemaOf, SCHEMA_NAMES } from './schema-files';

// The published schema files are generated from the TypeBox definitions the types come from.
// Any change to a type changes its schema file; this snapshot makes that change visible in review.
// Regenerate with `pnpm --filter @greentic/deploy-spec schemas`.
describe('published JSON Schemas', () => {
  it.each(SCHEMA_NAMES)('schemas/%s.json matches the type definitions', async (name) => {
    await expect(`${JSON.stringify(jsonSchemaOf(name), null, 2)}\n`).toMatchFileSnapshot(`../schemas/${name}.json`);
  });

  it('declares draft 2020-12 and a stable $id on every schema', () => {
    for (const name of SCHEMA_NAMES) {
      const schema = jsonSchemaOf(name);
      expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
      expect(schema.$id).toBe(`https://schemas.greentic.ai/deploy-spec/v1/${name}.json`);
    }
  });
});
