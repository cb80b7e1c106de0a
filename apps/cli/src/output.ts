import type { Writable } from 'node:stream';
import { isTty, useColor } from './context';

type Style = 'bold' | 'dim' | 'red' | 'green' | 'yellow' | 'cyan';
const SGR: Record<Style, [number, number]> = {
  bold: [1, 22],
  dim: [2, 22],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  cyan: [36, 39],
};

/** A column of a human table: header, how to read the cell from a row. */
export interface Column<T> {
  readonly header: string;
  readonly value: (row: T) => string;
  readonly align?: 'left' | 'right';
}

/**
 * Everything a command prints goes through here: human text (tables, colours on a terminal only) or JSON.
 */
export class Printer {
  readonly color: boolean;
  readonly interactive: boolean;
  constructor(
    readonly stdout: Writable,
    readonly stderr: Writable,
    env: Readonly<Record<string, string | undefined>>,
  ) {
    this.color = useColor(env, stdout);
    // A spinner only for a person watching a terminal: not when the output is piped or captured, not in CI.
    this.interactive = isTty(stdout) && isTty(stderr) && env.CI === undefined;
  }

  style(style: Style, text: string): string {
    if (!this.color) return text;
    const [open, close] = SGR[style];
    return `\u001b[${open}m${text}\u001b[${close}m`;
  }

  line(text = ''): void {
    this.stdout.write(`${text}\n`);
  }

  /** Progress and notices go to stderr so stdout stays parseable. */
  note(text: string): void {
    this.stderr.write(`${text}\n`);
  }

  json(value: unknown): void {
    this.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  table<T>(rows: readonly T[], columns: readonly Column<T>[], empty = '(none)'): void {
    if (rows.length === 0) {
      this.line(this.style('dim', empty));
      return;
    }
    this.line(renderTable(rows, columns, (h) => this.style('bold', h)));
  }

  /** Key/value lines for one object. */
  fields(pairs: readonly (readonly [string, string])[]): void {
    const width = Math.max(...pairs.map(([k]) => k.length));
    for (const [k, v] of pairs) this.line(`${this.style('bold', k.padEnd(width))}  ${v}`);
  }

  /**
   * Run `work` with a spinner on stderr when it is a terminal; otherwise print nothing until it ends.
   * The spinner line is cleared before anything else prints.
   */
  async spin<T>(label: string, work: () => Promise<T>): Promise<T> {
    if (!this.interactive) return work();
    const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
    const started = Date.now();
    let i = 0;
    const draw = () => {
      const secs = ((Date.now() - started) / 1000).toFixed(1);
      this.stderr.write(`\r\u001b[2K${frames[i++ % frames.length]} ${label} (${secs}s)`);
    };
    draw();
    const timer = setInterval(draw, 100);
    try {
      return await work();
    } finally {
      clearInterval(timer);
      this.stderr.write('\r\u001b[2K');
    }
  }
}

/**
 * A plain-text table with padded columns (ANSI-free widths).
 *
 * @example
 * renderTable([{ a: 'x' }], [{ header: 'A', value: (r) => r.a }]) // 'A\nx'
 */
export function renderTable<T>(
  rows: readonly T[],
  columns: readonly Column<T>[],
  header: (h: string) => string = (h) => h,
): string {
  const cells = rows.map((r) => columns.map((c) => c.value(r)));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => (row[i] ?? '').length)));
  const pad = (text: string, i: number) => {
    const w = widths[i] ?? 0;
    return columns[i]?.align === 'right' ? text.padStart(w) : text.padEnd(w);
  };
  const head = columns.map((c, i) => header(pad(c.header, i))).join('  ');
  const body = cells.map((row) => row.map((cell, i) => pad(cell, i)).join('  '));
  return [head, ...body].map((l) => l.trimEnd()).join('\n');
}
