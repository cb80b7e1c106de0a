import { parseServerArgs, USAGE, UsageError } from './cli-options';
import { startStoreServer } from './server';

// greentic-store-server: parse flags, start, print the first admin token once, stop gracefully on SIGTERM/SIGINT.

async function main(): Promise<number> {
  let parsed: ReturnType<typeof parseServerArgs>;
  try {
    parsed = parseServerArgs(process.argv.slice(2), process.env);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`greentic-store-server: ${error.message}\n\n${USAGE}`);
      return 2;
    }
    throw error;
  }
  if (parsed.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const server = await startStoreServer({
    ...parsed.options,
    onAdminToken: (token) => {
      process.stdout.write(
        `greentic-store-server: created the first admin token. It is shown once and stored only as a hash:\n${token}\n`,
      );
    },
  });
  process.stdout.write(`greentic-store-server: listening on ${server.url}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      void server.close().then(resolve);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`greentic-store-server: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
