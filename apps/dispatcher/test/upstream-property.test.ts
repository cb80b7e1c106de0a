import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dispatcher } from '../src/index';
import { dispatcherFor, fetchRaw, type RawUpstream, startRawUpstream } from './raw-upstream';

/** One generated upstream response: what the raw upstream writes, and where its bytes are cut into TCP writes. */
interface Planned {
  readonly status: number;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Uint8Array;
  readonly framing: 'sized' | 'chunked' | 'close';
  readonly chunkSizes: readonly number[];
  readonly extensions: boolean;
  readonly trailers: readonly (readonly [string, string])[];
  readonly informational: boolean;
  readonly cuts: readonly number[]; // millionths
  /** Also cut every byte in a 24-byte window here (millionths), e.g. between the CR and LF of a line end. */
  readonly fine: number | null;
}

// A field value as an upstream may send it: HTAB, SP, visible ASCII and obs-text, no edge whitespace.
const fieldValue = fc
  .array(fc.oneof(fc.constant(9), fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff })), {
    maxLength: 40,
  })
  .map((codes) =>
    String.fromCharCode(...codes)
      .replace(/^[ \t]+|[ \t]+$/g, '')
      .replace(/^$/, 'v'),
  );
const fieldName = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}$/);
const fields = fc
  .array(fc.tuple(fieldName, fieldValue), { maxLength: 12 })
  .map((list) => list.map(([name, value], i) => [`X-P${i}-${name}`, value] as const));

const planned: fc.Arbitrary<Planned> = fc.record({
  status: fc.constantFrom(200, 201, 202, 203, 206, 299, 301, 400, 404, 418, 500, 503, 599),
  headers: fields,
  // `size: 'max'`: lengths spread over the whole range (fast-check keeps arrays tiny by default).
  body: fc.oneof(
    fc.uint8Array({ maxLength: 300, size: 'max' }),
    fc.uint8Array({ minLength: 1000, maxLength: 40_000, size: 'max' }),
  ),
  framing: fc.constantFrom('sized', 'chunked', 'close'),
  chunkSizes: fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 8 }),
  extensions: fc.boolean(),
  trailers: fields,
  informational: fc.boolean(),
  // Cut points in millionths of the response's length (fast-check's doubles crowd at 0 and 1).
  cuts: fc.array(fc.integer({ min: 1, max: 999_999 }), { maxLength: 12, size: 'max' }),
  fine: fc.option(fc.integer({ min: 0, max: 999_999 })),
});

/** The exact bytes of a planned response. */
function wire(p: Planned): Buffer {
  const parts: Buffer[] = [];
  const latin1 = (s: string) => parts.push(Buffer.from(s, 'latin1'));
  if (p.informational) latin1('HTTP/1.1 100 Continue\r\n\r\n');
  let head = `HTTP/1.1 ${p.status} Some Reason\r\n`;
  for (const [name, value] of p.headers) head += `${name}: ${value}\r\n`;
  if (p.framing === 'sized') head += `Content-Length: ${p.body.length}\r\n`;
  if (p.framing === 'chunked') head += 'Transfer-Encoding: chunked\r\n';
  latin1(`${head}\r\n`);
  if (p.framing !== 'chunked') {
    parts.push(Buffer.from(p.body));
    return Buffer.concat(parts);
  }
  let at = 0;
  for (let i = 0; at < p.body.length; i++) {
    const size = Math.min(p.chunkSizes[i % p.chunkSizes.length]!, p.body.length - at);
    latin1(`${size.toString(16)}${p.extensions ? `;i=${i};q="x y"` : ''}\r\n`);
    parts.push(Buffer.from(p.body.subarray(at, at + size)));
    latin1('\r\n');
    at += size;
  }
  latin1(`0\r\n${p.trailers.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`);
  return Buffer.concat(parts);
}

describe('the dispatcher relays any well-formed upstream response byte for byte (property)', () => {
  let upstream: RawUpstream;
  let dispatcher: { dispatcher: Dispatcher; close(): Promise<void> };
  let next: Planned | undefined;

  beforeAll(async () => {
    upstream = await startRawUpstream((_req, socket) => {
      const p = next!;
      const bytes = wire(p);
      // Cut the bytes at the planned points and write each piece a timer turn apart: separate TCP segments.
      const at = (millionths: number) => Math.floor((millionths / 1_000_000) * bytes.length);
      const points = p.cuts.map(at);
      if (p.fine !== null) for (let i = 0; i < 24; i++) points.push(at(p.fine) + i);
      const cuts = [...new Set(points)].sort((a, b) => a - b);
      const pieces: Buffer[] = [];
      let from = 0;
      for (const c of cuts) {
        if (c > from) pieces.push(bytes.subarray(from, c));
        from = Math.max(from, c);
      }
      pieces.push(bytes.subarray(from));
      const write = () => {
        const piece = pieces.shift();
        if (piece === undefined || socket.destroyed) {
          if (p.framing === 'close') socket.end();
          return;
        }
        socket.write(piece);
        setTimeout(write, 0);
      };
      write();
    });
    dispatcher = await dispatcherFor(upstream.url);
  });
  afterAll(async () => {
    await dispatcher?.close();
    await upstream?.close();
  });

  it('status, fields and body arrive as the upstream sent them, however the bytes are split', async () => {
    await fc.assert(
      fc.asyncProperty(planned, async (p) => {
        next = p;
        const r = await fetchRaw(`${dispatcher.dispatcher.url}/property`);
        expect(r.status).toBe(p.status);
        const received: [string, string][] = [];
        for (let i = 0; i < r.rawHeaders.length; i += 2) {
          if (/^x-p\d+-/i.test(r.rawHeaders[i]!)) received.push([r.rawHeaders[i]!.toLowerCase(), r.rawHeaders[i + 1]!]);
        }
        expect(received).toEqual(p.headers.map(([n, v]) => [n.toLowerCase(), v]));
        expect(r.body.equals(Buffer.from(p.body))).toBe(true);
        // A chunked answer's trailers reach the client too (the dispatcher chunks its answer when it has no length).
        const trailers = Object.entries(r.trailers).filter(([n]) => /^x-p\d+-/.test(n));
        expect(trailers).toEqual(p.framing === 'chunked' ? p.trailers.map(([n, v]) => [n.toLowerCase(), v]) : []);
      }),
      { numRuns: 150 },
    );
  }, 120_000);
});
