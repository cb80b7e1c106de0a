import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('README', () => {
  it('shows the example files exactly as the tests run them', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const blocks = [...readme.matchAll(/<!-- file: (\S+) -->\n```ts\n([\s\S]*?)```/g)];
    expect(blocks.map((b) => b[1])).toEqual([
      'test/example/in-process-fixtures.ts',
      'test/example/in-process-deployer.test.ts',
    ]);
    for (const [, path, code] of blocks) expect(code).toBe(readFileSync(join(root, path!), 'utf8'));
  });
});
