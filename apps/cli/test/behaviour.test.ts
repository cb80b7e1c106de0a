import { describe, expect, it } from 'vitest';
import { CliError, toReport } from '../src/index';
import { explainConflict, parsePairs } from '../src/ops/common';
import { Printer } from '../src/output';
import { Capture } from './helpers';

function storeError(code: string, details: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(`[store] ${code}`), { name: 'StoreError', code, details });
}

describe('conflicts', () => {
  it('tells the operator what changed and how to retry, and exits with the conflict code', async () => {
    const error = await explainConflict(
      'the traffic of local/support',
      'gtc op traffic set support r8=100',
      async () => {
        throw storeError('version-conflict', { currentVersion: 'v4-abc' });
      },
      async () => 'r7=50 r8=50',
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    const report = toReport(error).error;
    expect(report.exitCode).toBe(4);
    expect(report.message).toBe(
      'the traffic of local/support was changed by someone else since this command read it (now at version v4-abc); it is now: r7=50 r8=50; nothing was changed',
    );
    expect(report.hint).toBe('check the new state, then run again: gtc op traffic set support r8=100');
  });

  it('passes other errors through untouched', async () => {
    const original = storeError('forbidden');
    await expect(explainConflict('x', 'y', async () => Promise.reject(original))).rejects.toBe(original);
  });
});

describe('key=value input', () => {
  it('reads numbers and booleans as such, quoted values as strings, and refuses a pair without =', () => {
    expect(parsePairs(['a=1', 'b=true', 'c="8080"', 'd=x=y'], 'config')).toEqual({
      a: 1,
      b: true,
      c: '8080',
      d: 'x=y',
    });
    expect(() => parsePairs(['novalue'], 'config')).toThrow(/"novalue" is not key=value/);
  });
});

describe('terminal output', () => {
  it('draws a spinner only when stderr is a terminal, and colours only without NO_COLOR', async () => {
    const out = new Capture();
    const err = Object.assign(new Capture(), { isTTY: true });
    const tty = new Printer(Object.assign(out, { isTTY: true }), err, {});
    await tty.spin('warming r1', () => new Promise((r) => setTimeout(r, 150)));
    expect(err.text).toContain('warming r1');
    expect(tty.style('red', 'x')).toBe('\u001b[31mx\u001b[39m');

    const plainErr = new Capture();
    const piped = new Printer(new Capture(), plainErr, {});
    await piped.spin('warming r1', async () => undefined);
    expect(plainErr.text).toBe('');
    expect(piped.style('red', 'x')).toBe('x');

    const noColor = new Printer(Object.assign(new Capture(), { isTTY: true }), new Capture(), { NO_COLOR: '1' });
    expect(noColor.style('red', 'x')).toBe('x');
  });
});

describe('the local store, one process at a time', () => {
  it('waits for another holder of the SQLite file instead of failing, and says so', async () => {
    const { tempDir, gtc } = await import('./helpers');
    const { openSqliteStore } = await import('@greentic/store-sql');
    const { join } = await import('node:path');
    const home = tempDir('gtc-busy-');
    try {
      const holder = await openSqliteStore({ file: join(home.dir, 'store.db') });
      const release = setTimeout(() => void holder.close(), 700);
      const r = await gtc(['op', 'env', 'list', '--json'], { env: { GREENTIC_HOME: home.dir } });
      clearTimeout(release);
      await holder.close();
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain('the local store is in use by another gtc command; waiting');
    } finally {
      home.remove();
    }
  });
});

describe('shell completion', () => {
  it('completes groups, commands and options from the registered commands', async () => {
    const { gtc } = await import('./helpers');
    const { execFileSync } = await import('node:child_process');
    const script = (await gtc(['completion', 'bash'])).stdout;
    const complete = (line: string) =>
      execFileSync(
        'bash',
        [
          '-c',
          `${script}\nCOMP_WORDS=(${line}); COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 )); _gtc_complete; echo "\${COMPREPLY[*]}"`,
        ],
        { encoding: 'utf8' },
      ).trim();
    expect(complete("gtc ''").split(' ')).toEqual(expect.arrayContaining(['op', 'completion', '--help']));
    expect(complete('gtc op tra')).toBe('traffic');
    expect(complete('gtc op traffic s')).toBe('set');
    expect(complete('gtc op traffic set support --e')).toBe('--env');
    expect(complete('gtc op env ap')).toBe('apply');
    expect(complete('gtc op host pr')).toBe('promote prune');
    expect(complete("gtc op host pkg ''")).toBe('capture promote rollback');
    expect(complete('gtc op host pkg capture --p')).toBe('--package');
  });
});
