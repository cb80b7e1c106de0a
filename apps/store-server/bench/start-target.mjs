// Shared by bench.mjs and read-ab.mjs: start one server of targets.mjs in a process of its own.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/**
 * Starts `targets.mjs <role>` with `token` as its admin token, adds the child to `children` (the caller stops
 * them), and resolves to its base URL and pid once it prints its first line. `env` adds environment variables
 * (`STORE_DIST`: the build the store role loads).
 */
export function startTarget(role, token, children, env = {}) {
  const child = spawn(process.execPath, [join(here, 'targets.mjs'), role], {
    env: { ...process.env, ...env, BENCH_TOKEN: token },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((ok, fail) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n')) ok({ url: JSON.parse(out.split('\n')[0]).url, pid: child.pid });
    });
    child.once('exit', (code) => fail(new Error(`bench target ${role} exited with ${code}`)));
  });
}
