import { afterEach, describe, expect, it, vi } from 'vitest';
import { jsonLogger } from './logger';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('jsonLogger', () => {
  it('writes one JSON object per line and never the value of a secret-looking field', () => {
    const lines: string[] = [];
    const log = jsonLogger((line) => lines.push(line));
    log.info('[store-server] request', { requestId: 'r1', authorization: 'Bearer gtc_x', adminToken: 'gtc_y' });
    log.warn('w', { idempotencyKey: 'k-1', apiKey: 'z' });
    expect(lines).toHaveLength(2);
    const [first, second] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(first).toMatchObject({
      level: 'info',
      requestId: 'r1',
      authorization: '[redacted]',
      adminToken: '[redacted]',
    });
    expect(second).toMatchObject({ level: 'warn', idempotencyKey: 'k-1', apiKey: '[redacted]' });
    expect(lines.join('')).not.toMatch(/gtc_|"z"/);
  });

  it('on stderr, writes the lines of one event-loop turn together, and an error line at once', async () => {
    const writes: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    });
    const log = jsonLogger();
    log.info('one');
    log.info('two');
    expect(writes).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toHaveLength(1);
    expect(
      writes[0]
        ?.trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { msg: string }).msg),
    ).toEqual(['one', 'two']);
    log.info('three');
    log.error('boom');
    expect(writes).toHaveLength(2);
    expect(writes[1]).toContain('"three"');
    expect(writes[1]).toContain('"boom"');
  });

  it('writes each line exactly as JSON.stringify of time, level, msg and the scrubbed fields', () => {
    const lines: string[] = [];
    const log = jsonLogger((line) => lines.push(line));
    const cases: Record<string, unknown>[] = [
      {},
      { requestId: 'r1', method: 'GET', status: 200, ms: 0.4, actor: 'admin' },
      { gone: undefined, fn: () => 1, nested: { a: [1, 'two', null], b: { token: 'kept inside' } }, n: Number.NaN },
      { 'quote"key': 'line\nbreak', ünï: '\u2028', when: new Date(0), token: 'gtc_secret' },
      { msg: 'replaced', time: 'too', 2: 'two', 1: 'one', after: true },
    ];
    for (const fields of cases) log.info('m "quoted"', fields);
    expect(lines).toHaveLength(cases.length);
    lines.forEach((line, i) => {
      const time = (JSON.parse(line) as { time: string }).time;
      const scrubbed = Object.fromEntries(
        Object.entries(cases[i] ?? {}).map(([k, v]) => [
          k,
          /authorization|token|secret|password|cookie|key$/i.test(k) ? '[redacted]' : v,
        ]),
      );
      expect(line).toBe(`${JSON.stringify({ time, level: 'info', msg: 'm "quoted"', ...scrubbed })}\n`);
    });
  });
});
