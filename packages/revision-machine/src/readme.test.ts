import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readmeSnippets, runReadmeSnippet } from '../../../tests/readme-snippets/src/index';

// The README's usage snippet is run as written (only the package import is pointed at this source tree), and what
// it prints must be what its comments promise. A README that drifts from the code fails here.
const entry = fileURLToPath(new URL('./index.ts', import.meta.url));
const snippets = readmeSnippets(fileURLToPath(new URL('..', import.meta.url)));
const runSnippet = (code: string) => runReadmeSnippet(code, { packageName: '@greentic/revision-machine', entry });

describe('README', () => {
  it('has a usage snippet', () => {
    expect(snippets).toHaveLength(1);
  });

  it('runs the usage snippet and prints what its comments say', async () => {
    const printed = await runSnippet(snippets[0]!);
    expect(printed).toEqual([
      'holds-traffic revision r7 of zain-prod/support holds 2500 bps (25%) of traffic; move its traffic to another revision before you drain it',
      'true',
    ]);
  });
});
