// @greentic/cli: the `gtc` operator CLI. The binary is dist/gtc.js; this entry lets tests and embedders run it
// in-process with their own streams.

export type { RunOptions } from './cli';
export { createCli, runGtc } from './cli';
export { CliError } from './cli-error';
export type { GtcContext } from './context';
export type { ExitFamily } from './exit-codes';
export { ERROR_FAMILIES, EXIT_CODES, familyOf } from './exit-codes';
export type { ErrorReport } from './report-error';
export { toReport } from './report-error';
