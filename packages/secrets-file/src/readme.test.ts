import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { readmeSnippets, runReadmeSnippet } from '../../../tests/readme-snippets/src/index';

// The README's usage snippet is run as written (only the package import is pointed at this source tree), and what
// it prints must be what its comments promise. A README that drifts from the code fails here.
const entry = fileURLToPath(new URL('./index.ts', import.meta.url));
const snippets = readmeSnippets(fileURLToPath(new URL('..', import.meta.url)));
const runSnippet = (code: string) => runReadmeSnippet(code, { packageName: '@greentic/secrets-file', entry });

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('README', () => {
  it('has a usage snippet', () => {
    expect(snippets).toHaveLength(1);
  });

  it('runs the usage snippet and prints what its comments say', async () => {
    vi.stubEnv('OPENAI_API_KEY', undefined); // the snippet must not copy a real key into a temporary file
    const printed = await runSnippet(snippets[0]!);
    expect(printed).toEqual([
      JSON.stringify(['secret://local/openai/api-key']),
      "[greentic.secrets.file] secret secret://local/missing is not set in environment local; set it in the environment's secrets pack (greentic.secrets.file) before starting what needs it",
    ]);
  });
});
