import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Stop every worker process the local-process deployer started under `home` (tests leave nothing running).
 * Reads the deployer's own process records; signals only pids that are still alive.
 */
export function killWorkers(home: string): number {
  let killed = 0;
  const stateRoot = join(home, 'state');
  if (!existsSync(stateRoot)) return 0;
  const walk = (dir: string) => {
    for (const name of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, name.name);
      if (name.isDirectory()) walk(p);
      else if (name.name === 'process.json') {
        const { pid } = JSON.parse(readFileSync(p, 'utf8')) as { pid: number };
        try {
          process.kill(pid, 'SIGKILL');
          killed++;
        } catch {
          // already gone
        }
      }
    }
  };
  walk(stateRoot);
  return killed;
}
