import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isStoreError } from '@greentic/store-contract';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../src/index';

// Real second processes. They load the built package (`pnpm turbo run build --filter=@greentic/store-sql...`;
// CI builds before it tests), because a child process cannot load the TypeScript sources.
const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');

const CHILD = `
import { openSqliteStore } from '@greentic/store-sql';
const [file, mode] = process.argv.slice(-2);
try {
  const store = await openSqliteStore({ file });
  if (mode === 'hold') {
    await store.putEnvironment({ name: 'from-child', slots: {}, config: {} }, { actor: 'child', idempotencyKey: 'k1' });
    console.log(JSON.stringify({ ready: true }));
    setTimeout(() => process.exit(0), 20000); // bounded: the test kills it long before
  } else {
    console.log(JSON.stringify({ opened: true }));
    await store.close();
  }
} catch (e) {
  console.log(JSON.stringify({ code: e.code, message: e.message }));
}
`;

function runChild(
  file: string,
  mode: 'try' | 'hold',
): { child: ChildProcess; firstLine: Promise<Record<string, unknown>> } {
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, file, mode], {
    cwd: pkgDir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const firstLine = new Promise<Record<string, unknown>>((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`child gave no answer in 15 s; stderr: ${err}`)), 15_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(JSON.parse(out.slice(0, nl)) as Record<string, unknown>);
      }
    });
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (!out.includes('\n')) reject(new Error(`child exited ${code} without an answer; stderr: ${err}`));
    });
  });
  return { child, firstLine };
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

describe('sqlite single writer (real processes)', () => {
  let dir: string;
  const children: ChildProcess[] = [];
  beforeAll(() => {
    if (!existsSync(join(pkgDir, 'dist', 'index.js'))) {
      throw new Error('[store-sql] build first: pnpm turbo run build --filter=@greentic/store-sql...');
    }
  });
  afterEach(async () => {
    for (const c of children.splice(0)) {
      c.kill('SIGKILL');
      await exited(c);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a second process that opens the file, and the first keeps its data', async () => {
    dir = mkdtempSync(join(tmpdir(), 'greentic-lock-'));
    const file = join(dir, 'store.db');
    const store = await openSqliteStore({ file });
    await store.putEnvironment({ name: 'local', slots: {}, config: { a: 1 } }, { actor: 'me', idempotencyKey: 'k1' });
    const { child, firstLine } = runChild(file, 'try');
    children.push(child);
    const answer = await firstLine;
    expect(answer.code).toBe('unavailable');
    expect(String(answer.message)).toContain('already open for writing by another process');
    expect(String(answer.message)).toContain(file);
    expect((await store.getConfig('local')).value).toEqual({ a: 1 });
    expect((await store.verifyIntegrity()).ok).toBe(true);
    await store.close();
  });

  it('refuses this process while another holds the file; a crashed holder releases it with its writes intact', async () => {
    dir = mkdtempSync(join(tmpdir(), 'greentic-lock-'));
    const file = join(dir, 'store.db');
    const { child, firstLine } = runChild(file, 'hold');
    children.push(child);
    expect(await firstLine).toEqual({ ready: true });
    const refused = await openSqliteStore({ file }).then(
      () => 'opened',
      (e: unknown) => (isStoreError(e, 'unavailable') ? 'unavailable' : String(e)),
    );
    expect(refused).toBe('unavailable');
    child.kill('SIGKILL'); // a crash: no close, no checkpoint
    await exited(child);
    const store = await openSqliteStore({ file });
    expect((await store.getEnvironment('from-child')).value.name).toBe('from-child');
    expect((await store.verifyIntegrity()).ok).toBe(true);
    await store.close();
  });
});
