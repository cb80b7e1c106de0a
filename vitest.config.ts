import { defineConfig } from 'vitest/config';

// One vitest run for the whole workspace. Workspace packages resolve to their TypeScript sources
// through the `@greentic/source` export condition, so tests never depend on a stale `dist/`.
export default defineConfig({
  resolve: { conditions: ['@greentic/source', 'module', 'node', 'default'] },
  ssr: {
    resolve: {
      conditions: ['@greentic/source', 'module', 'node', 'default'],
      externalConditions: ['@greentic/source'],
    },
  },
  test: {
    include: [
      'packages/*/src/**/*.test.ts',
      'packages/*/test/**/*.test.ts',
      'apps/*/src/**/*.test.ts',
      'apps/*/test/**/*.test.ts',
      'examples/*/src/**/*.test.ts',
      'tests/*/test/**/*.test.ts',
    ],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 3,
  },
});
