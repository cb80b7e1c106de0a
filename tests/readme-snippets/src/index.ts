import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vi } from 'vitest';

// Test-only helper shared by the packages' `readme.test.ts`: a README's ```ts usage snippet is run as written
// (only the package import is pointed at the package's source tree) and what it prints is returned, so a README
// that drifts from the code fails its package's tests. Not a workspace package: nothing here is published.

/** The ```ts blocks of the README in `packageDir`, in order. */
export function readmeSnippets(packageDir: string): string[] {
  const readme = readFileSync(join(packageDir, 'README.md'), 'utf8');
  return [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
}

export interface RunSnippetOptions {
  /** The package name the snippet imports, e.g. `@greentic/deploy-spec`. */
  readonly packageName: string;
  /** The package's `src/index.ts`, which replaces that import. */
  readonly entry: string;
  /** Run in this folder (chdir for the snippet's own lookups) instead of a fresh temporary one. */
  readonly dir?: string;
}

/**
 * Run one snippet and return the lines it printed (console.log and console.error; objects as JSON).
 * Restores the console, the working directory and removes the temporary folder it made.
 */
export async function runReadmeSnippet(code: string, options: RunSnippetOptions): Promise<string[]> {
  const own = options.dir === undefined ? mkdtempSync(join(tmpdir(), 'greentic-readme-')) : undefined;
  const dir = options.dir ?? own!;
  const file = join(dir, `usage-${Date.now()}-${Math.random().toString(36).slice(2)}.ts`);
  writeFileSync(file, code.replaceAll(`'${options.packageName}'`, JSON.stringify(options.entry)));
  const printed: string[] = [];
  const capture = (...args: unknown[]) => {
    printed.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
  };
  const log = vi.spyOn(console, 'log').mockImplementation(capture);
  const error = vi.spyOn(console, 'error').mockImplementation(capture);
  const cwd = process.cwd();
  process.chdir(dir); // a snippet that searches from process.cwd() sees the folder it was given
  try {
    await import(/* @vite-ignore */ file);
  } finally {
    process.chdir(cwd);
    log.mockRestore();
    error.mockRestore();
    if (own !== undefined) rmSync(own, { recursive: true, force: true });
  }
  return printed;
}
