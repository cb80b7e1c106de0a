import type { GreenticStore } from '@greentic/store-contract';
import { type CommitSync, openPostgresStore, openSqliteStore } from '@greentic/store-sql';

/**
 * Opens the store a server was configured with: Postgres when `postgres` is set, else the SQLite file `db`.
 *
 * @example
 * const store = await openConfiguredStore({ db: './greentic.db' });
 */
export async function openConfiguredStore(options: {
  readonly db?: string;
  readonly postgres?: string;
  readonly postgresSchema?: string;
  /** How SQLite group commits are made durable (default `inline`; see @greentic/store-sql). */
  readonly commitSync?: CommitSync;
}): Promise<GreenticStore> {
  if (options.postgres !== undefined) {
    return openPostgresStore({
      url: options.postgres,
      ...(options.postgresSchema === undefined ? {} : { schema: options.postgresSchema }),
    });
  }
  return openSqliteStore({
    file: options.db ?? './greentic.db',
    ...(options.commitSync === undefined ? {} : { commitSync: options.commitSync }),
  });
}
