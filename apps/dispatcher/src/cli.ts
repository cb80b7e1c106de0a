import { parseArgs } from 'node:util';
import type { DispatcherOptions } from './dispatcher';
import { DispatcherError } from './errors';

export const USAGE = `greentic-dispatcher: route each request to a revision (traffic dial, sticky sessions, drain)

Usage: greentic-dispatcher (--config-dir DIR | --store-url URL) [options]

  --config-dir DIR         folder holding runtime-config.json (ConfigMap mount or <stateDir>/runtime-config)
  --store-url URL          follow the runtime config in the store (conditional GET, backoff);
                           bearer token from GREENTIC_STORE_TOKEN
  --config-file NAME       file name in that folder (default runtime-config.json)
  --listen HOST:PORT       proxy listener (default 127.0.0.1:8080)
  --admin-listen HOST:PORT /healthz /readyz /metrics /admin/revisions (default 127.0.0.1:8081)
  --trusted-cidrs LIST     comma-separated CIDRs allowed to use the trusted revision header
  --cookie-keys ENV        name of the env var holding comma-separated cookie keys, newest first
                           (default GREENTIC_COOKIE_KEYS; keys never go on the command line or in logs)
  --trust-secret ENV       name of the env var holding the trust shared secret (default GREENTIC_TRUST_SECRET)
  --redis-url URL          share session pins through Redis (or GREENTIC_REDIS_URL)
  --upstream-timeout MS    upstream headers/body timeout → 504 (default 30000)

Example:
  GREENTIC_COOKIE_KEYS=$(openssl rand -hex 32) greentic-dispatcher --config-dir /var/lib/greentic/runtime-config \\
    --listen 0.0.0.0:8080 --trusted-cidrs 10.0.0.0/8 --redis-url redis://127.0.0.1:6379`;

/**
 * Turn command-line flags and the environment into `startDispatcher` options. Secrets come from the environment
 * only; a mistake is a `DispatcherError` with code `invalid-option` naming the flag.
 *
 * @example
 * const options = parseDispatcherArgs(['--config-dir', '/tmp/rc', '--listen', '127.0.0.1:0'], process.env);
 */
export function parseDispatcherArgs(argv: readonly string[], env: NodeJS.ProcessEnv): DispatcherOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        'config-dir': { type: 'string' },
        'config-file': { type: 'string' },
        'store-url': { type: 'string' },
        listen: { type: 'string' },
        'admin-listen': { type: 'string' },
        'trusted-cidrs': { type: 'string' },
        'cookie-keys': { type: 'string' },
        'trust-secret': { type: 'string' },
        'redis-url': { type: 'string' },
        'upstream-timeout': { type: 'string' },
        help: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (cause) {
    throw new DispatcherError('invalid-option', `${(cause as Error).message}\n\n${USAGE}`);
  }
  if (values.help) throw new DispatcherError('invalid-option', USAGE);
  const configDir = values['config-dir'] as string | undefined;
  const storeUrl = values['store-url'] as string | undefined;
  if ((configDir === undefined) === (storeUrl === undefined)) {
    throw new DispatcherError(
      'invalid-option',
      `give exactly one of --config-dir (the folder holding runtime-config.json) or --store-url\n\n${USAGE}`,
    );
  }
  if (storeUrl !== undefined && !URL.canParse(storeUrl)) {
    throw new DispatcherError(
      'invalid-option',
      `--store-url "${storeUrl}" is not a URL; write it like http://127.0.0.1:7070/...`,
    );
  }
  const cookieEnv = (values['cookie-keys'] as string | undefined) ?? 'GREENTIC_COOKIE_KEYS';
  const secretEnv = (values['trust-secret'] as string | undefined) ?? 'GREENTIC_TRUST_SECRET';
  const cookieKeys = (env[cookieEnv] ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k !== '');
  if (values['cookie-keys'] !== undefined && cookieKeys.length === 0) {
    throw new DispatcherError(
      'invalid-option',
      `--cookie-keys ${cookieEnv}: that environment variable is empty; set it to comma-separated keys`,
    );
  }
  const timeout = values['upstream-timeout'] as string | undefined;
  if (timeout !== undefined && !/^\d+$/.test(timeout)) {
    throw new DispatcherError('invalid-option', `--upstream-timeout "${timeout}" is not a number of milliseconds`);
  }
  const cidrs = values['trusted-cidrs'] as string | undefined;
  const redisUrl = (values['redis-url'] as string | undefined) ?? env.GREENTIC_REDIS_URL;
  const trustSecret = env[secretEnv];
  return {
    ...(configDir !== undefined ? { configDir } : {}),
    ...(storeUrl !== undefined ? { storeUrl } : {}),
    ...(env.GREENTIC_STORE_TOKEN ? { storeToken: env.GREENTIC_STORE_TOKEN } : {}),
    listen: (values.listen as string | undefined) ?? '127.0.0.1:8080',
    adminListen: (values['admin-listen'] as string | undefined) ?? '127.0.0.1:8081',
    ...(values['config-file'] !== undefined ? { configFile: values['config-file'] as string } : {}),
    ...(cidrs !== undefined ? { trustedCidrs: cidrs.split(',').filter((c) => c.trim() !== '') } : {}),
    ...(cookieKeys.length > 0 ? { cookieKeys } : {}),
    ...(trustSecret ? { trustSecret } : {}),
    ...(redisUrl ? { redisUrl } : {}),
    ...(timeout !== undefined ? { upstreamTimeoutMs: Number(timeout) } : {}),
  };
}
