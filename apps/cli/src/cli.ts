import { Builtins, Cli, type Command } from 'clipanion';
import * as audit from './commands/audit';
import * as bundles from './commands/bundles';
import * as completion from './commands/completion';
import * as config from './commands/config';
import * as credentials from './commands/credentials';
import * as deployments from './commands/deployments';
import * as envPacks from './commands/env-packs';
import * as environments from './commands/environments';
import * as host from './commands/host';
import * as revisions from './commands/revisions';
import * as secrets from './commands/secrets';
import * as store from './commands/store';
import * as traffic from './commands/traffic';
import type { GtcContext } from './context';
import { useColor } from './context';
import { EXIT_CODES } from './exit-codes';
import { toReport } from './report-error';

/** The version printed by `gtc --version`; kept in step with package.json by the build (tsup `define`). */
declare const __GTC_VERSION__: string | undefined;
const VERSION = typeof __GTC_VERSION__ === 'string' ? __GTC_VERSION__ : '0.0.0-dev';

const GROUPS = [
  environments,
  envPacks,
  bundles,
  deployments,
  revisions,
  traffic,
  credentials,
  secrets,
  config,
  audit,
  store,
  host,
  completion,
];

/**
 * Build the `gtc` command line with every `gtc op …` command registered.
 *
 * @example
 * const cli = createCli();
 * await cli.run(['op', 'env', 'list', '--json'], { ...Cli.defaultContext, cwd: process.cwd() });
 */
export function createCli(options: { colored?: boolean } = {}): Cli<GtcContext> {
  const cli = new Cli<GtcContext>({
    binaryLabel: 'gtc — Greentic deploy operator CLI',
    binaryName: 'gtc',
    binaryVersion: VERSION,
    // Clipanion's help formatter looks at the process, not the context: tell it (NO_COLOR, pipes).
    enableColors: options.colored ?? false,
  });
  cli.register(Builtins.HelpCommand);
  cli.register(Builtins.VersionCommand);
  for (const group of GROUPS) {
    for (const command of Object.values(group)) cli.register(command);
  }
  return cli;
}

export interface RunOptions {
  readonly stdin?: GtcContext['stdin'];
  readonly stdout: GtcContext['stdout'];
  readonly stderr: GtcContext['stderr'];
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
}

/**
 * Run `gtc` with the given arguments and streams (tests, embedders); resolves with the exit code.
 *
 * @example
 * const code = await runGtc(['op', 'status', '--json'], { stdout: process.stdout, stderr: process.stderr });
 */
export async function runGtc(argv: readonly string[], options: RunOptions): Promise<number> {
  const env = { ...(options.env ?? process.env) };
  const colored = useColor(env, options.stdout);
  const context: GtcContext = {
    stdin: options.stdin ?? process.stdin,
    stdout: options.stdout,
    stderr: options.stderr,
    env,
    cwd: options.cwd ?? process.cwd(),
    colorDepth: colored ? 8 : 1,
  };
  const cli = createCli({ colored });
  if (argv.length === 0 || (argv.length === 1 && (argv[0] === '--help' || argv[0] === '-h'))) {
    // The overview needs no parser: skip compiling Clipanion's state machine (a third of `gtc --help`'s start-up).
    context.stdout.write(cli.usage(null, { colored }));
    return 0;
  }
  let command: Command<GtcContext>;
  try {
    // Parsing (paths, options, typanion validators) happens here: a mistake on the command line is a usage
    // error (exit 2) that changed nothing, reported on stderr (or as JSON on stdout with --json).
    command = cli.process([...argv], context);
  } catch (error) {
    if (argv.includes('--json')) {
      const report = toReport(error instanceof Error ? error : new Error(String(error)));
      const usage = { ...report.error, code: 'usage', family: 'usage' as const, exitCode: EXIT_CODES.usage };
      context.stdout.write(`${JSON.stringify({ error: usage }, null, 2)}\n`);
    } else context.stderr.write(cli.error(error, { colored }));
    return EXIT_CODES.usage;
  }
  return cli.run(command, context);
}
