import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';

// The README's usage snippet is run as written (only the package import is pointed at this source tree), and what
// it prints must be what its comments promise. A README that drifts from the code fails here.
const here = fileURLToPath(new URL('.', import.meta.url));
const readme = readFileSync(join(here, '../README.md'), 'utf8');
const snippets = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');

async function runSnippet(code: string): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'secrets-file-readme-'));
  const file = join(dir, 'usage.ts');
  writeFileSync(file, code.replaceAll(`'@greentic/secrets-file'`, JSON.stringify(join(here, 'index.ts'))));
  const printed: string[] = [];
  const capture = (...args: unknown[]) => {
    printed.push(args.map(String).join(' '));
  };
  vi.spyOn(console, 'log').mockImplementation(capture);
  vi.spyOn(console, 'error').mockImplementation(capture);
  try {
    await import(/* @vite-ignore */ file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return printed;
}

afterEach(() => {
  vi.restoreAllMocks();
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
      'secret://local/openai/api-key',
      "[greentic.secrets.file] secret secret://local/missing is not set in environment local; set it in the environment's secrets pack (greentic.secrets.file) before starting what needs it",
    ]);
  });
});
