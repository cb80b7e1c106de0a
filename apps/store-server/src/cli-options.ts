import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { StartStoreServerOptions } from './server';

/** The help text of `greentic-store-server`. */
export const USAGE = `greentic-store-server: the Greentic deploy store over HTTP

Usage: greentic-store-server [--db FILE | --postgres URL] [--listen HOST:PORT] [options]

Store
  --db FILE                 SQLite file (default ./greentic.db)            env GREENTIC_STORE_DB
  --postgres URL            Postgres instead of SQLite                     env GREENTIC_STORE_POSTGRES
  --postgres-schema NAME    schema of the store's tables (default greentic) env GREENTIC_STORE_POSTGRES_SCHEMA
  --commit-sync MODE        SQLite: inline (sync inside COMMIT, default) or env GREENTIC_STORE_COMMIT_SYNC
                            background (sync the WAL off the event loop)
Network
  --listen HOST:PORT        address to bind (default 127.0.0.1:8787)       env GREENTIC_STORE_LISTEN
  --body-limit BYTES        largest request body (default 1048576)         env GREENTIC_STORE_BODY_LIMIT
  --tls-cert FILE           serve HTTPS with this certificate (PEM)        env GREENTIC_STORE_TLS_CERT
  --tls-key FILE            private key of --tls-cert (PEM)                env GREENTIC_STORE_TLS_KEY
  --tls-client-ca FILE      accept client certificates from this CA (mTLS) env GREENTIC_STORE_TLS_CLIENT_CA
Identity (static bearer tokens are always on)
  --mtls-subjects FILE      JSON { "<CN>": { "grants": [{ "role": "operator", "environments": "zain-*" }] } }
                                                                           env GREENTIC_STORE_MTLS_SUBJECTS
  --oidc-issuer URL         trust JWTs from this issuer                    env GREENTIC_OIDC_ISSUER
  --oidc-audience AUD       required aud claim                             env GREENTIC_OIDC_AUDIENCE
  --oidc-jwks-url URL       the issuer's JWKS                              env GREENTIC_OIDC_JWKS_URL
  --oidc-roles-claim NAME   claim holding roles/groups (default roles)     env GREENTIC_OIDC_ROLES_CLAIM
First start
  GREENTIC_ADMIN_TOKEN      the first admin token (else one is generated and printed once)
  --help                    this text

Examples
  greentic-store-server --db ./greentic.db
  greentic-store-server --postgres postgres://greentic@db:5432/greentic --listen 0.0.0.0:8787
`;

/** A user's mistake on the command line: printed with the usage, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * Parses flags and environment variables (flags win) into server options.
 *
 * @example
 * parseServerArgs(['--db', 'x.db', '--listen', '127.0.0.1:0'], {}); // { help: false, options: { db: 'x.db', host: '127.0.0.1', port: 0 } }
 */
export function parseServerArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): { help: boolean; options: StartStoreServerOptions } {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        db: { type: 'string' },
        postgres: { type: 'string' },
        'postgres-schema': { type: 'string' },
        'commit-sync': { type: 'string' },
        listen: { type: 'string' },
        'body-limit': { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        'tls-client-ca': { type: 'string' },
        'mtls-subjects': { type: 'string' },
        'oidc-issuer': { type: 'string' },
        'oidc-audience': { type: 'string' },
        'oidc-jwks-url': { type: 'string' },
        'oidc-roles-claim': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const get = (flag: string, variable: string): string | undefined => {
    const v = values[flag];
    return typeof v === 'string' ? v : env[variable] || undefined;
  };
  const options: Record<string, unknown> = {};
  const postgres = get('postgres', 'GREENTIC_STORE_POSTGRES');
  const db = get('db', 'GREENTIC_STORE_DB');
  if (postgres !== undefined && typeof values.db === 'string') {
    throw new UsageError('--db and --postgres both given: choose one store');
  }
  if (postgres !== undefined) {
    options.postgres = postgres;
    const schema = get('postgres-schema', 'GREENTIC_STORE_POSTGRES_SCHEMA');
    if (schema !== undefined) options.postgresSchema = schema;
  } else options.db = db ?? './greentic.db';
  const commitSync = get('commit-sync', 'GREENTIC_STORE_COMMIT_SYNC');
  if (commitSync !== undefined) {
    if (commitSync !== 'inline' && commitSync !== 'background') {
      throw new UsageError(`--commit-sync ${JSON.stringify(commitSync)} must be inline or background`);
    }
    if (postgres !== undefined)
      throw new UsageError('--commit-sync applies to SQLite only; Postgres syncs its own WAL');
    options.commitSync = commitSync;
  }

  const listen = get('listen', 'GREENTIC_STORE_LISTEN') ?? '127.0.0.1:8787';
  const match = /^(\[[0-9a-fA-F:]+\]|[^:]+):([0-9]{1,5})$/.exec(listen);
  if (match === null || Number(match[2]) > 65535) {
    throw new UsageError(`--listen ${JSON.stringify(listen)} must be HOST:PORT, e.g. 127.0.0.1:8787`);
  }
  options.host = (match[1] as string).replace(/^\[|\]$/g, '');
  options.port = Number(match[2]);

  const limit = get('body-limit', 'GREENTIC_STORE_BODY_LIMIT');
  if (limit !== undefined) {
    if (!/^[0-9]{1,10}$/.test(limit) || Number(limit) < 1024)
      throw new UsageError('--body-limit must be a number of bytes ≥ 1024');
    options.bodyLimitBytes = Number(limit);
  }

  const cert = get('tls-cert', 'GREENTIC_STORE_TLS_CERT');
  const key = get('tls-key', 'GREENTIC_STORE_TLS_KEY');
  const ca = get('tls-client-ca', 'GREENTIC_STORE_TLS_CLIENT_CA');
  if ((cert === undefined) !== (key === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
  const read = (file: string, flag: string) => {
    try {
      return readFileSync(file);
    } catch {
      throw new UsageError(`${flag} ${file}: cannot read the file`);
    }
  };
  if (cert !== undefined && key !== undefined) {
    options.tls = {
      cert: read(cert, '--tls-cert'),
      key: read(key, '--tls-key'),
      ...(ca ? { ca: read(ca, '--tls-client-ca') } : {}),
    };
  } else if (ca !== undefined) {
    throw new UsageError('--tls-client-ca needs --tls-cert and --tls-key (mutual TLS runs over HTTPS)');
  }
  const subjects = get('mtls-subjects', 'GREENTIC_STORE_MTLS_SUBJECTS');
  if (subjects !== undefined) {
    try {
      options.mtls = { subjects: JSON.parse(read(subjects, '--mtls-subjects').toString('utf8')) };
    } catch (error) {
      if (error instanceof UsageError) throw error;
      throw new UsageError(`--mtls-subjects ${subjects}: not valid JSON`);
    }
  }
  const issuer = get('oidc-issuer', 'GREENTIC_OIDC_ISSUER');
  const audience = get('oidc-audience', 'GREENTIC_OIDC_AUDIENCE');
  const jwksUrl = get('oidc-jwks-url', 'GREENTIC_OIDC_JWKS_URL');
  if (issuer !== undefined || audience !== undefined || jwksUrl !== undefined) {
    if (issuer === undefined || audience === undefined || jwksUrl === undefined) {
      throw new UsageError('OIDC needs --oidc-issuer, --oidc-audience and --oidc-jwks-url together');
    }
    const rolesClaim = get('oidc-roles-claim', 'GREENTIC_OIDC_ROLES_CLAIM');
    options.oidc = { issuer, audience, jwksUrl, ...(rolesClaim ? { rolesClaim } : {}) };
  }
  const admin = env.GREENTIC_ADMIN_TOKEN;
  if (admin !== undefined && admin !== '') options.adminToken = admin;
  return { help: values.help === true, options: options as StartStoreServerOptions };
}
