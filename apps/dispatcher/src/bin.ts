import { parseDispatcherArgs } from './cli';
import { startDispatcher } from './dispatcher';
import { DispatcherError } from './errors';

async function main(): Promise<void> {
  const options = parseDispatcherArgs(process.argv.slice(2), process.env);
  const dispatcher = await startDispatcher(options);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`[dispatcher] ${signal}: draining in-flight requests\n`);
    dispatcher.close().then(
      () => process.exit(0),
      (e: unknown) => {
        process.stderr.write(`[dispatcher] shutdown failed: ${(e as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof DispatcherError ? e.message : String(e)}\n`);
  process.exit(2);
});
