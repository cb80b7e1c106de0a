import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readmeSnippets, runReadmeSnippet } from '../../../tests/readme-snippets/src/index';

// The README's usage snippet is run as written (only the package import is pointed at this source tree), and what
// it prints must be what its comments promise. A README that drifts from the code fails here.
const entry = fileURLToPath(new URL('./index.ts', import.meta.url));
const snippets = readmeSnippets(fileURLToPath(new URL('..', import.meta.url)));
const runSnippet = (code: string) => runReadmeSnippet(code, { packageName: '@greentic/deploy-spec', entry });

describe('README', () => {
  it('has a usage snippet', () => {
    expect(snippets).toHaveLength(1);
  });

  it('runs the usage snippet and prints what its comments say', async () => {
    const printed = await runSnippet(snippets[0]!);
    expect(printed[0]).toBe('/entries/1/weight: must be an integer number of basis points (0–10000), got 12.5');
    expect(printed[1]).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(printed).toHaveLength(2);
  });
});
