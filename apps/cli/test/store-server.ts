import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const SERVER_BIN = resolve(import.meta.dirname, '../../store-server/dist/greentic-store-server.js');

export interface StoreServerProcess {
  readonly url: string;
  readonly token: string;
  stop(): Promise<void>;
}

/**
 * Start greentic-store-server as a real process on an embedded SQLite file in `dir`, on a free loopback port.
 * Needs the store server built (CI builds before tests).
 */
export async function startStoreServerProcess(dir: string): Promise<StoreServerProcess> {
  if (!existsSync(SERVER_BIN)) {
    throw new Error(`${SERVER_BIN} is missing: build first (pnpm turbo run build --filter=greentic-store-server...)`);
  }
  const token = randomBytes(24).toString('base64url');
  const child: ChildProcess = spawn(
    process.execPath,
    [SERVER_BIN, '--db', join(dir, 'server.db'), '--listen', '127.0.0.1:0'],
    {
      env: { PATH: process.env.PATH, GREENTIC_ADMIN_TOKEN: token },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`store server did not start within 15 s:\n${out}`)), 15_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolveUrl(m[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`store server exited with ${code}:\n${out}`));
    });
  });
  return {
    url,
    token,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
