import { readFileSync } from 'node:fs';
import { defineConfig } from 'tsup';

const { version } = JSON.parse(readFileSync('./package.json', 'utf8')) as { version: string };

export default defineConfig({
  entry: { gtc: 'src/gtc.ts', index: 'src/index.ts' },
  format: ['esm'],
  target: 'node22',
  dts: { entry: { index: 'src/index.ts' } },
  sourcemap: true,
  clean: true,
  // Heavy modules stay behind dynamic import() chunks; the entry only carries Clipanion and the command classes.
  splitting: true,
  // Clipanion and typanion are bundled into the entry: one file to load instead of a module graph.
  noExternal: ['clipanion', 'typanion'],
  define: { __GTC_VERSION__: JSON.stringify(version) },
});
