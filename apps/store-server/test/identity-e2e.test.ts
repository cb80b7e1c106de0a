import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { env, type ServerFixture, startFixture } from './server-fixture';

// The same routes and store, three ways to prove identity: adding OIDC or mutual TLS changes no route.

describe('OIDC through the server', () => {
  let jwks: Server;
  let f: ServerFixture;
  let sign: (claims: Record<string, unknown>, rogue?: boolean) => Promise<string>;
  beforeAll(async () => {
    const pair = await generateKeyPair('ES256', { extractable: true });
    const rogue = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256' };
    jwks = createServer((_q, r) => r.end(JSON.stringify({ keys: [jwk] })));
    await new Promise<void>((ok) => jwks.listen(0, '127.0.0.1', ok));
    const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks`;
    f = await startFixture({ oidc: { issuer: 'https://id.test', audience: 'greentic-store', jwksUrl } });
    sign = (claims, useRogue = false) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setIssuer('https://id.test')
        .setAudience('greentic-store')
        .setSubject('bob@example.com')
        .setExpirationTime('5m')
        .sign(useRogue ? rogue.privateKey : pair.privateKey);
  });
  afterAll(async () => {
    await f.close();
    jwks.closeAllConnections();
    await new Promise((ok) => jwks.close(ok));
  });

  it('lets a verified operator JWT write, records its actor, and audits a forged one as 401', async () => {
    const ok = await f.call('/v1/environments/oidc-env', {
      method: 'PUT',
      body: env('oidc-env'),
      token: await sign({ roles: ['operator'] }),
    });
    expect(ok.status).toBe(201);
    const forged = await f.call('/v1/environments/oidc-env', { token: await sign({ roles: ['admin'] }, true) });
    expect(forged.status).toBe(401);
    const reader = await f.call('/v1/environments/oidc-env', {
      method: 'DELETE',
      token: await sign({ roles: ['read-only'] }),
    });
    expect(reader.status).toBe(403);
    const audit = await f.sql.queryAudit({ environment: 'oidc-env' });
    expect(audit.map((e) => [e.actor, e.action, e.outcome, e.status ?? null])).toEqual([
      ['oidc:bob@example.com', 'environment.put', 'applied', null],
      ['anonymous', 'environment.read', 'refused', 401],
      ['oidc:bob@example.com', 'environment.delete', 'refused', 403],
    ]);
    expect((await f.call('/v1/environments/oidc-env')).status).toBe(200);
  });
});

describe('mutual TLS through the server', () => {
  const dir = mkdtempSync(join(tmpdir(), 'greentic-mtls-e2e-'));
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const file = (name: string) => readFileSync(join(dir, name));
  let f: ServerFixture;

  beforeAll(async () => {
    const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
    openssl('req', '-x509', ...key, '-days', '2', '-subj', '/CN=test-ca', '-keyout', 'ca.key', '-out', 'ca.crt');
    const leaf = (name: string, ext: string) => {
      writeFileSync(join(dir, `${name}.ext`), ext);
      openssl('req', '-new', ...key, '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
      openssl(
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-days',
        '2',
        '-out',
        `${name}.crt`,
        '-extfile',
        `${name}.ext`,
      );
    };
    leaf('server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    leaf('deploy-bot', 'extendedKeyUsage=clientAuth\n');
    f = await startFixture({
      tls: { key: file('server.key'), cert: file('server.crt'), ca: file('ca.crt') },
      mtls: { subjects: { 'deploy-bot': { grants: [{ role: 'operator', environments: 'zain-*' }] } } },
    });
  });
  afterAll(async () => {
    await f.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const call = (method: string, path: string, body?: string, client = true) =>
    new Promise<{ status: number; body: string }>((ok, fail) => {
      const req = httpsRequest(
        {
          host: '127.0.0.1',
          port: f.server.port,
          method,
          path,
          ca: file('ca.crt'),
          agent: false,
          headers: body === undefined ? {} : { 'content-type': 'application/json' },
          ...(client ? { key: file('deploy-bot.key'), cert: file('deploy-bot.crt') } : {}),
        },
        (res) => {
          let text = '';
          res.on('data', (d) => {
            text += d;
          });
          res.on('end', () => ok({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', fail);
      req.end(body);
    });

  it('maps the client certificate to actor mtls:deploy-bot scoped to zain-*, and refuses no certificate', async () => {
    expect((await call('PUT', '/v1/environments/zain-edge', env('zain-edge'))).status).toBe(201);
    expect((await call('PUT', '/v1/environments/staging', env('staging'))).status).toBe(403);
    expect((await call('GET', '/v1/environments/zain-edge', undefined, false)).status).toBe(401);
    const applied = await f.sql.queryAudit({ outcome: 'applied', action: 'environment.put' });
    expect(applied.at(-1)).toMatchObject({ actor: 'mtls:deploy-bot', environment: 'zain-edge' });
  });
});
