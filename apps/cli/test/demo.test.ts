import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../..');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// `pnpm demo` end to end, as a new user runs it (it needs the built packages: CI builds before tests).
describe('pnpm demo', () => {
  it('rolls hello-worker from v1 to v2 through the router, prints every gtc command and share, leaves nothing running', async () => {
    const child = spawn(process.execPath, ['scripts/demo.mjs'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, NO_COLOR: '1', DEMO_REQUESTS: '200' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      out += c.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 140_000);
    const code = await new Promise<number | null>((r) => child.once('close', r));
    clearTimeout(timer);
    expect(code, out).toBe(0);

    for (const command of [
      '$ gtc op bundles publish examples/hello-worker --version 1.0.0',
      '$ gtc op bundles publish examples/hello-worker --version 2.0.0',
      '$ gtc op revisions warm hello r1',
      '$ gtc op revisions warm hello r2',
      '$ gtc op traffic set hello r1=100',
      '$ gtc op traffic set hello r1=90 r2=10',
      '$ gtc op traffic set hello r2=100',
      '$ gtc op revisions drain hello r1',
      '$ gtc op revisions archive hello r1',
    ]) {
      expect(out).toContain(command);
    }
    expect(out).toContain('move its traffic first: gtc op traffic set hello r2=100');
    expect(out).toMatch(/100% to r1 \(v1\.0\.0\): observed through the router over 200 requests: r1 100\.0% \(200\)/);
    expect(out).toMatch(/100% to r2 \(v2\.0\.0\): observed through the router over 200 requests: r2 100\.0% \(200\)/);
    // 90/10 over 200 requests: r2's count is binomial(200, 0.1); 3..45 holds with overwhelming probability.
    const split =
      /90\/10: observed through the router over 200 requests: r1 [\d.]+% \((\d+)\), r2 [\d.]+% \((\d+)\)/.exec(out);
    expect(split, out).not.toBeNull();
    expect(Number(split?.[1]) + Number(split?.[2])).toBe(200);
    expect(Number(split?.[2])).toBeGreaterThanOrEqual(3);
    expect(Number(split?.[2])).toBeLessThanOrEqual(45);

    const pids = [...out.matchAll(/\(pid (\d+)\)/g)].map((m) => Number(m[1]));
    expect(pids.length).toBeGreaterThan(0);
    for (const pid of pids) expect(alive(pid)).toBe(false);
    expect(out).toContain('the dispatcher, the store server; removed');
  }, 150_000);
});
