import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Command, Option } from 'clipanion';
import type { GtcContext } from './context';
import { Printer } from './output';
import type { Session } from './session';

/**
 * The options every `gtc op` command shares, and the one place errors become exit codes. Heavy modules (the
 * store, kysely, better-sqlite3, the HTTP client, env-packs) are imported inside `run()` through `session()`,
 * so `gtc --help` loads none of them.
 */
export abstract class GtcCommand extends Command<GtcContext> {
  json = Option.Boolean('--json', false, { description: 'Print JSON for scripts (shapes in the README)' });
  storeUrl = Option.String('--store-url', {
    description: 'Use the store server at this URL (default: $GREENTIC_STORE_URL, else the local SQLite file)',
  });
  home = Option.String('--home', {
    description: 'Folder of the local store and pack state (default: $GREENTIC_HOME, else ~/.greentic)',
  });

  idempotencyKey = Option.String('--idempotency-key', {
    description: 'Key sent with every change this command makes; reuse it to retry safely (default: a new one)',
    hidden: true,
  });

  #printer: Printer | undefined;
  #key: string | undefined;
  #session: Session | undefined;

  /** The command's work; returns an exit code (0 when omitted). */
  abstract run(): Promise<number | undefined>;

  protected get out(): Printer {
    this.#printer ??= new Printer(this.context.stdout, this.context.stderr, this.context.env);
    return this.#printer;
  }

  /** What operations (ops/*.ts) see of the command: output, the session, input folder, idempotency keys. */
  protected io(environment = 'local'): CommandIO {
    return {
      out: this.out,
      json: this.json,
      cwd: this.context.cwd,
      env: this.context.env,
      stdin: this.context.stdin,
      environment,
      session: () => this.session(),
      key: (step) => {
        this.#key ??= this.idempotencyKey ?? randomUUID();
        return `${this.#key}/${step}`;
      },
    };
  }

  /** Open the store (local or remote) and the pack registry, once per command. */
  protected async session(): Promise<Session> {
    if (!this.#session) {
      const { openSession } = await import('./session');
      this.#session = await openSession({
        env: this.context.env,
        cwd: this.context.cwd,
        storeUrl: this.storeUrl,
        home: this.home,
        notice: (line) => this.out.note(line),
      });
    }
    return this.#session;
  }

  async execute(): Promise<number> {
    try {
      return (await this.run()) ?? 0;
    } catch (error) {
      const { reportError } = await import('./report-error');
      return reportError(error, this.out, this.json);
    } finally {
      await this.#session?.close();
    }
  }
}

/** Commands that act inside one environment (`--env`, default `$GREENTIC_ENV`, else `local`). */
export abstract class EnvCommand extends GtcCommand {
  envName = Option.String('--env,-e', {
    description: 'Environment to act in (default: $GREENTIC_ENV, else local)',
  });

  protected get environment(): string {
    return this.envName ?? this.context.env.GREENTIC_ENV ?? 'local';
  }

  protected override io(): CommandIO {
    return super.io(this.environment);
  }
}

/** The slice of a command that operations use; lets ops stay free of Clipanion. */
export interface CommandIO {
  readonly out: Printer;
  readonly json: boolean;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdin: Readable;
  /** The environment the command acts in (`--env`, `$GREENTIC_ENV`, else `local`). */
  readonly environment: string;
  session(): Promise<Session>;
  /**
   * The idempotency key for one step of this command: `<invocation key>/<step>`. Steps have stable names, so a
   * re-run with the same `--idempotency-key` replays every step instead of applying it twice.
   */
  key(step: string): string;
}
