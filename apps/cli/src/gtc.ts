#!/usr/bin/env node
// The `gtc` binary. Kept tiny: Clipanion and the command classes only; every command imports what it needs
// (store, packs, HTTP client) inside its own execute(), so `gtc --help` starts fast. Node's compile cache
// (22.1+) keeps V8 bytecode between runs, so it is switched on before the CLI module graph loads.
import module from 'node:module';

module.enableCompileCache?.();
const { runGtc } = await import('./cli');
const code = await runGtc(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
});
process.exitCode = code;
