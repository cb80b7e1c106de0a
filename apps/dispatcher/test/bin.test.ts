import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDispatcherArgs } from '../src/index';
import { type ConfigFolder, createConfigFolder, get, oneDeployment, startWorker, type Worker } from './helpers';

const appDir = fileURLToPath(new URL('..', import.meta.url));
const bin = fileURLToPath(new URL('../dist/greentic-dispatcher.js', import.meta.url));

describe('parseDispatcherArgs', () => {
  it('reads cookie keys and the trust secret from the environment only', () => {
    const o = parseDispatcherArgs(
      ['--config-dir', '/tmp/rc', '--cookie-keys', 'MY_KEYS', '--trusted-cidrs', '10.0.0.0/8,127.0.0.1/32'],
      {
        MY_KEYS: 'new-key-0123456789abc,old-key-0123456789abc',
        GREENTIC_TRUST_SECRET: 'shh-0123456789abcdef',
      },
    );
    expect(o).toMatchObject({
      configDir: '/tmp/rc',
      listen: '127.0.0.1:8080',
      adminListen: '127.0.0.1:8081',
      cookieKeys: ['new-key-0123456789abc', 'old-key-0123456789abc'],
      trustedCidrs: ['10.0.0.0/8', '127.0.0.1/32'],
      trustSecret: 'shh-0123456789abcdef',
    });
  });

  it('refuses a missing --config-dir, an unknown flag and an empty key variable, naming the fix', () => {
    expect(() => parseDispatcherArgs([], {})).toThrow(/exactly one of --config-dir .* or --store-url/);
    expect(() => parseDispatcherArgs(['--config-dir', 'x', '--frobnicate'], {})).toThrow(/frobnicate/);
    expect(() => parseDispatcherArgs(['--config-dir', 'x', '--cookie-keys', 'NOPE'], {})).toThrow(
      /--cookie-keys NOPE: that environment variable is empty/,
    );
  });
});

describe('greentic-dispatcher (the built binary, a real process)', () => {
  let worker: Worker;
  let folder: ConfigFolder;
  let child: ChildProcess | undefined;
  let stderr = '';

  beforeAll(async () => {
    // CI builds before testing; build here when run alone.
    if (!existsSync(bin)) execFileSync('pnpm', ['run', 'build'], { cwd: appDir, stdio: 'ignore' });
    [worker, folder] = await Promise.all([startWorker('blue'), createConfigFolder()]);
    await folder.write(oneDeployment(1, [{ id: 'blue', weight: 10_000, endpoint: worker.url }]));
  });
  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await Promise.all([worker?.close(), folder?.remove()]);
  });

  it('serves, never logs the cookie keys, and drains in-flight requests on SIGTERM', async () => {
    const secret = 'process-cookie-key-0123456789';
    child = spawn(
      process.execPath,
      [bin, '--config-dir', folder.dir, '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0'],
      {
        env: { ...process.env, GREENTIC_COOKIE_KEYS: secret },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    child.stderr!.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    await expect.poll(() => /proxy on (http:\S+), admin on (http:\S+),/.exec(stderr), { timeout: 10_000 }).toBeTruthy();
    const [, url, adminUrl] = /proxy on (http:\S+), admin on (http:\S+),/.exec(stderr)!;
    await expect.poll(async () => (await get(adminUrl!, '/readyz')).status, { timeout: 5000 }).toBe(200);
    const first = await get(url!, '/');
    expect(first.worker).toBe('blue');
    expect(String(first.headers['set-cookie'])).toMatch(/^gtr_acme_support=v1\.blue\./);
    const slow = get(url!, '/slow?ms=1000');
    // SIGTERM only once the dispatcher holds the request (its admin endpoint says so).
    await expect
      .poll(
        async () => JSON.parse((await get(adminUrl!, '/admin/revisions')).text).deployments[0].revisions[0].inFlight,
        {
          timeout: 5000,
        },
      )
      .toBe(1);
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect((await slow).status).toBe(200);
    expect(await exited).toBe(0);
    expect(stderr).toContain('SIGTERM: draining in-flight requests');
    expect(stderr).not.toContain(secret);
  });
});
