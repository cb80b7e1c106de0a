import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

it('the README usage is the test file that runs it', () => {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const block = /<!-- file: (\S+) -->\n```ts\n([\s\S]*?)```/.exec(readme);
  expect(block?.[1]).toBe('test/readme-example.test.ts');
  expect(block?.[2]).toBe(readFileSync(join(root, block![1]!), 'utf8'));
});
