import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mtlsProvider, peerCertificateOf } from './mtls';
import { oidcProvider } from './oidc';
import { chainIdentityProviders, type IdentityOutcome } from './provider';
import { fixedTokenDirectory, hashToken, mintToken, staticTokenProvider, type TokenRecord } from './static-tokens';

const noCert = { peerCertificate: undefined } as const;

describe('static token provider', () => {
  const adminToken = mintToken();
  const provider = staticTokenProvider(
    fixedTokenDirectory([{ actor: 'alice', tokenHash: hashToken(adminToken), grants: [{ role: 'admin' }] }]),
  );

  it('authenticates a known token and keeps only its hash', async () => {
    const outcome = await provider.identify({ ...noCert, authorization: `Bearer ${adminToken}` });
    expect(outcome).toMatchObject({ kind: 'authenticated', principal: { actor: 'alice', via: 'token' } });
    expect(hashToken(adminToken)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(hashToken(adminToken)).not.toContain(adminToken.slice(4));
  });

  it('rejects an unknown token and a token that differs in one character, without echoing it', async () => {
    const last = adminToken.at(-1) === 'A' ? 'B' : 'A';
    for (const token of [mintToken(), `${adminToken.slice(0, -1)}${last}`]) {
      const outcome = await provider.identify({ ...noCert, authorization: `Bearer ${token}` });
      expect(outcome.kind).toBe('rejected');
      expect(JSON.stringify(outcome)).not.toContain(token);
    }
  });

  it('leaves JWTs and other schemes to other providers', async () => {
    expect((await provider.identify({ ...noCert, authorization: 'Bearer a.b.c' })).kind).toBe('not-mine');
    expect((await provider.identify({ ...noCert, authorization: 'Basic dXNlcjpwYXNz' })).kind).toBe('not-mine');
  });

  it('caches only the hash of a verified token, never the verdict: a token whose record is gone is refused', async () => {
    const token = mintToken();
    const records: TokenRecord[] = [{ actor: 'bob', tokenHash: hashToken(token), grants: [{ role: 'operator' }] }];
    let lookups = 0;
    const cached = staticTokenProvider({
      async findByHash(hash) {
        lookups++;
        return records.find((r) => r.tokenHash === hash);
      },
    });
    const ask = () => cached.identify({ ...noCert, authorization: `Bearer ${token}` });
    expect((await ask()).kind).toBe('authenticated');
    expect((await ask()).kind).toBe('authenticated');
    expect(lookups).toBe(2); // the directory is asked every time
    records.length = 0; // revoked
    expect((await ask()).kind).toBe('rejected');
    // A record whose stored hash does not match in constant-time comparison is refused too.
    records.push({ actor: 'eve', tokenHash: `sha256:${'0'.repeat(64)}`, grants: [{ role: 'admin' }] });
    const lying = staticTokenProvider({ findByHash: async () => records[0] });
    expect((await lying.identify({ ...noCert, authorization: `Bearer ${token}` })).kind).toBe('rejected');
  });

  it('a chain with no matching provider rejects and says what to send', async () => {
    const chain = chainIdentityProviders([provider]);
    const outcome = await chain.identify({ ...noCert, authorization: undefined });
    expect(outcome).toEqual({ kind: 'rejected', reason: 'no credentials: send Authorization: Bearer <token>' });
  });
});

describe('OIDC provider (JWT against a local JWKS)', () => {
  let jwksServer: Server;
  let jwksUrl = '';
  const issuer = 'https://id.greentic.test';
  const audience = 'greentic-store';
  type SigningKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
  let signingKey: SigningKey;
  let rogueKey: SigningKey;

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256', { extractable: true });
    const rogue = await generateKeyPair('ES256');
    signingKey = pair.privateKey;
    rogueKey = rogue.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    jwksServer = createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks`;
  });
  afterAll(async () => {
    jwksServer.closeAllConnections();
    await new Promise((resolve) => jwksServer.close(resolve));
  });

  const sign = (claims: Record<string, unknown>, key = signingKey, opts: { aud?: string; exp?: string } = {}) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer(issuer)
      .setAudience(opts.aud ?? audience)
      .setSubject('bob@example.com')
      .setIssuedAt()
      .setExpirationTime(opts.exp ?? '5m')
      .sign(key);

  const identify = (token: string): Promise<IdentityOutcome> =>
    oidcProvider({
      issuer,
      audience,
      jwksUrl,
      roleMap: { 'greentic-operators': { role: 'operator', environments: 'zain-*' } },
      rolesClaim: 'groups',
      clockToleranceSeconds: 0,
    }).identify({ ...noCert, authorization: `Bearer ${token}` });

  it('maps a valid token to an actor and its group to a scoped grant', async () => {
    const outcome = await identify(await sign({ groups: ['greentic-operators', 'unrelated'] }));
    expect(outcome).toEqual({
      kind: 'authenticated',
      principal: {
        actor: 'oidc:bob@example.com',
        via: 'oidc',
        grants: [{ role: 'operator', environments: 'zain-*' }],
        rules: [],
      },
    });
  });

  it('refuses a token signed by a key outside the JWKS, for another audience, or expired', async () => {
    for (const token of [
      await sign({}, rogueKey),
      await sign({}, signingKey, { aud: 'someone-else' }),
      await sign({}, signingKey, { exp: '-10s' }),
    ]) {
      const outcome = await identify(token);
      expect(outcome.kind).toBe('rejected');
    }
  });

  it('authenticates a token without mapped groups but grants nothing', async () => {
    const outcome = await identify(await sign({ groups: ['visitors'] }));
    expect(outcome).toMatchObject({ kind: 'authenticated', principal: { grants: [] } });
  });
});

describe('mutual TLS provider (certificates made by the test with openssl)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'greentic-mtls-'));
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const file = (name: string) => readFileSync(join(dir, name));
  let port = 0;
  let server: ReturnType<typeof createHttpsServer>;
  const provider = mtlsProvider({ subjects: { 'deploy-bot': { grants: [{ role: 'operator' }] } } });

  function makeCa(name: string) {
    openssl(
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
    );
  }
  function makeLeaf(name: string, ca: string) {
    openssl(
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-subj',
      `/CN=${name}/O=Greentic`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
    );
    openssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${ca}.crt`,
      '-CAkey',
      `${ca}.key`,
      '-CAcreateserial',
      '-days',
      '2',
      '-out',
      `${name}.crt`,
      '-extfile',
      `${name}.ext`,
    );
  }

  beforeAll(async () => {
    makeCa('ca');
    makeCa('rogue-ca');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'localhost.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    for (const name of ['deploy-bot', 'stranger', 'intruder'])
      writeFileSync(join(dir, `${name}.ext`), 'extendedKeyUsage=clientAuth\n');
    makeLeaf('localhost', 'ca');
    makeLeaf('deploy-bot', 'ca');
    makeLeaf('stranger', 'ca');
    makeLeaf('intruder', 'rogue-ca');
    server = createHttpsServer(
      {
        key: file('localhost.key'),
        cert: file('localhost.crt'),
        ca: file('ca.crt'),
        requestCert: true,
        rejectUnauthorized: false,
      },
      (req, res) => {
        void provider
          .identify({ authorization: undefined, peerCertificate: peerCertificateOf(req.socket) })
          .then((o) => {
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end(JSON.stringify(o));
          });
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  const call = (client?: string) =>
    new Promise<IdentityOutcome>((resolve, reject) => {
      const req = httpsRequest(
        {
          host: '127.0.0.1',
          port,
          path: '/',
          ca: file('ca.crt'),
          agent: false,
          ...(client === undefined ? {} : { key: file(`${client}.key`), cert: file(`${client}.crt`) }),
        },
        (res) => {
          let body = '';
          res.on('data', (chunk) => {
            body += chunk;
          });
          res.on('end', () => resolve(JSON.parse(body) as IdentityOutcome));
        },
      );
      req.on('error', reject);
      req.end();
    });

  it('maps a certificate from the trusted CA to actor mtls:<CN> with its grants', async () => {
    expect(await call('deploy-bot')).toEqual({
      kind: 'authenticated',
      principal: { actor: 'mtls:deploy-bot', via: 'mtls', grants: [{ role: 'operator' }], rules: [] },
    });
  });

  it('authenticates an unlisted subject of the trusted CA but grants it nothing', async () => {
    expect(await call('stranger')).toMatchObject({
      kind: 'authenticated',
      principal: { actor: 'mtls:stranger', grants: [] },
    });
  });

  it('rejects a certificate signed by another CA, and ignores a client without one', async () => {
    expect(await call('intruder')).toEqual({
      kind: 'rejected',
      reason: 'client certificate is not signed by a trusted CA',
    });
    expect(await call()).toEqual({ kind: 'not-mine' });
  });
});
