import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

// Everything this deployer knows lives in files under the environment's state folder, so a second command
// invocation sees the processes a first one started:
//   <stateDir>/revisions/<deployment>/<revision>/revision.json   what apply materialised
//   <stateDir>/revisions/<deployment>/<revision>/process.json    the live process (pid, port, start time)
//   <stateDir>/revisions/<deployment>/<revision>/worker.log      the worker's stdout and stderr
//   <stateDir>/runtime-config/runtime-config.json                what the dispatcher reads

export interface AppliedRevision {
  readonly environment: string;
  readonly tenant: string;
  readonly deployment: string;
  readonly revision: string;
  readonly bundleId: string;
  readonly bundleDigest: string;
  /** The argv after placeholders were filled in. */
  readonly command: readonly string[];
  readonly cwd: string;
  readonly healthPath: string;
  /** Extra worker environment from the revision's pack config (`env.NAME` keys); never secret values. */
  readonly env: Readonly<Record<string, string>>;
  readonly secretRefs: readonly string[];
}

export interface ProcessRecord {
  readonly pid: number;
  readonly port: number;
  /** `/proc/<pid>/stat` start time (clock ticks since boot): tells our process from a later one reusing the pid. */
  readonly startTime: string;
  readonly startedAt: string;
  readonly readyAt?: string;
  readonly draining?: boolean;
}

export function revisionDir(stateDir: string, deployment: string, revision: string): string {
  return join(stateDir, 'revisions', deployment, revision);
}
export function runtimeConfigPath(stateDir: string): string {
  return join(stateDir, 'runtime-config', 'runtime-config.json');
}
export function logPath(dir: string): string {
  return join(dir, 'worker.log');
}

export function readJson<T>(path: string): T | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined; // a torn or foreign file reads as absent; writers always replace files atomically
  }
}

/** Write through a temporary file and rename, so readers never see half a file. */
export function writeJsonAtomic(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(tmp, path);
}

export function removeFile(path: string): void {
  rmSync(path, { force: true });
}

/** The last `n` lines of a worker log (for error messages). */
export function lastLogLines(dir: string, n = 20): string[] {
  const path = logPath(dir);
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .slice(-n);
}
