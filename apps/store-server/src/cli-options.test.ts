import { describe, expect, it } from 'vitest';
import { parseServerArgs, UsageError } from './cli-options';

describe('greentic-store-server flags', () => {
  it('defaults to ./greentic.db on 127.0.0.1:8787', () => {
    expect(parseServerArgs([], {}).options).toEqual({ db: './greentic.db', host: '127.0.0.1', port: 8787 });
  });

  it('reads environment variables, and flags win over them', () => {
    const env = {
      GREENTIC_STORE_LISTEN: '0.0.0.0:9000',
      GREENTIC_STORE_DB: 'env.db',
      GREENTIC_ADMIN_TOKEN: 'x'.repeat(20),
    };
    expect(parseServerArgs(['--db', 'flag.db'], env).options).toEqual({
      db: 'flag.db',
      host: '0.0.0.0',
      port: 9000,
      adminToken: 'x'.repeat(20),
    });
    expect(parseServerArgs(['--commit-sync', 'background'], {}).options).toMatchObject({ commitSync: 'background' });
    expect(parseServerArgs([], { GREENTIC_STORE_COMMIT_SYNC: 'inline' }).options).toMatchObject({
      commitSync: 'inline',
    });
    expect(
      parseServerArgs(['--postgres', 'postgres://p@h/db', '--postgres-schema', 'g2', '--listen', '[::1]:0'], {})
        .options,
    ).toEqual({
      postgres: 'postgres://p@h/db',
      postgresSchema: 'g2',
      host: '::1',
      port: 0,
    });
  });

  it('refuses mistakes with a sentence that names the fix', () => {
    const cases: [string[], string][] = [
      [['--listen', '8787'], 'must be HOST:PORT'],
      [['--db', 'a', '--postgres', 'b'], 'choose one store'],
      [['--tls-cert', 'c.pem'], '--tls-cert and --tls-key go together'],
      [['--oidc-issuer', 'https://id'], 'OIDC needs'],
      [['--body-limit', '10'], '≥ 1024'],
      [['--nope'], "Unknown option '--nope'"],
      [['--commit-sync', 'lazy'], 'must be inline or background'],
      [['--postgres', 'postgres://p@h/db', '--commit-sync', 'background'], 'applies to SQLite only'],
    ];
    for (const [argv, message] of cases) {
      expect(() => parseServerArgs(argv, {})).toThrow(UsageError);
      expect(() => parseServerArgs(argv, {})).toThrow(message);
    }
  });
});
