import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { type EnvPackError, isEnvPackError } from '@greentic/env-pack';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { K8sObject } from './kinds';
import { KubeClient } from './kube-client';
import { loadKubeTarget, targetFor } from './kubeconfig';
import { type FakeApiServer, startFakeApiServer } from './testing/fake-apiserver';

const ns: K8sObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'greentic-t' } };
const deployment = (replicas: number): K8sObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'w1', namespace: 'greentic-t', labels: { app: 'w1' } },
  spec: {
    replicas,
    selector: { matchLabels: { app: 'w1' } },
    template: { metadata: { labels: { app: 'w1' } }, spec: { containers: [{ name: 'w', image: 'x' }] } },
  },
});

async function caught(p: Promise<unknown>): Promise<EnvPackError> {
  try {
    await p;
  } catch (e) {
    if (isEnvPackError(e)) return e;
    throw e;
  }
  throw new Error('expected an EnvPackError');
}

let fake: FakeApiServer;
let client: KubeClient;
beforeEach(async () => {
  fake = await startFakeApiServer({ availableAfterMs: 20, namespaceTerminationMs: 50 });
  client = new KubeClient(targetFor(fake.url), { timeoutMs: 5000 });
});
afterEach(async () => {
  await client.close();
  await fake.close();
});

describe('KubeClient.apply', () => {
  it('creates (201) then updates (200) with server-side apply as greentic-deployer, forced', async () => {
    expect((await client.apply(ns)).outcome).toBe('created');
    expect((await client.apply(deployment(1))).outcome).toBe('created');
    expect((await client.apply(deployment(2))).outcome).toBe('updated');
    const patch = fake.requests.filter((r) => r.method === 'PATCH');
    expect(patch.map((r) => [r.path, r.query, r.contentType, r.status])).toEqual([
      [
        '/api/v1/namespaces/greentic-t',
        { fieldManager: 'greentic-deployer', force: 'true' },
        'application/apply-patch+yaml',
        201,
      ],
      [
        '/apis/apps/v1/namespaces/greentic-t/deployments/w1',
        { fieldManager: 'greentic-deployer', force: 'true' },
        'application/apply-patch+yaml',
        201,
      ],
      [
        '/apis/apps/v1/namespaces/greentic-t/deployments/w1',
        { fieldManager: 'greentic-deployer', force: 'true' },
        'application/apply-patch+yaml',
        200,
      ],
    ]);
    expect(fake.get('Deployment', 'greentic-t', 'w1')?.spec).toMatchObject({ replicas: 2 });
  });

  it('changes nothing when the same object is applied twice (same resourceVersion)', async () => {
    await client.apply(ns);
    const first = await client.apply(deployment(1));
    const second = await client.apply(deployment(1));
    expect(second.object.metadata).toMatchObject({
      resourceVersion: (first.object.metadata as unknown as { resourceVersion: string }).resourceVersion,
    });
  });

  it('records greentic-deployer in managedFields', async () => {
    await client.apply(ns);
    const { object } = await client.apply(deployment(1));
    const managed = (
      object.metadata as unknown as { managedFields: { manager: string; fieldsV1: Record<string, unknown> }[] }
    ).managedFields;
    expect(managed.map((m) => m.manager)).toEqual(['greentic-deployer']);
    expect(managed[0]?.fieldsV1).toMatchObject({ 'f:spec': { 'f:replicas': {} } });
  });

  it('surfaces a field-manager conflict as a typed error naming the object and the field, unless forced', async () => {
    await client.apply(ns);
    await client.apply(deployment(1));
    expect(fake.applyAs('kubectl', deployment(5) as never, { force: true }).status).toBe(200);
    const polite = new KubeClient(targetFor(fake.url), { force: false });
    try {
      const e = await caught(polite.apply(deployment(2)));
      expect(e.code).toBe('conflict');
      expect(e.message).toContain('Deployment greentic-t/w1');
      expect(e.message).toContain('.spec.replicas');
      expect(e.details?.fields).toEqual(['.spec.replicas']);
    } finally {
      await polite.close();
    }
    // Forced (the default), the deployer takes the field back.
    await client.apply(deployment(2));
    const managed = fake.get('Deployment', 'greentic-t', 'w1')?.metadata.managedFields as {
      manager: string;
      fieldsV1: { 'f:spec'?: Record<string, unknown> };
    }[];
    expect(managed.find((m) => m.manager === 'kubectl')?.fieldsV1['f:spec']?.['f:replicas']).toBeUndefined();
    expect(fake.get('Deployment', 'greentic-t', 'w1')?.spec).toMatchObject({ replicas: 2 });
  });

  it('refuses a kind outside the closed table without sending anything', async () => {
    const e = await caught(
      client.apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'greentic-t' } }),
    );
    expect(e.code).toBe('unsupported');
    expect(fake.requests).toEqual([]);
  });

  it('says which namespace is missing', async () => {
    const e = await caught(client.apply(deployment(1)));
    expect(e.code).toBe('not-found');
    expect(e.message).toContain('namespace greentic-t does not exist');
  });

  it('gets 403 creating in a terminating namespace, as a forbidden error naming the object', async () => {
    await client.apply(ns);
    expect(await client.delete('Namespace', 'v1', undefined, 'greentic-t')).toBe('deleted');
    const e = await caught(client.apply(deployment(1)));
    expect(e.code).toBe('forbidden');
    expect(e.message).toContain('Deployment greentic-t/w1: apply forbidden');
    expect(e.message).toContain('being terminated');
  });

  it('reports a Deployment available once its replicas are ready', async () => {
    await client.apply(ns);
    await client.apply(deployment(3));
    const status = async () =>
      (await client.get('Deployment', 'apps/v1', 'greentic-t', 'w1'))?.status as { readyReplicas?: number } | undefined;
    expect((await status())?.readyReplicas).toBeUndefined();
    let ready: number | undefined;
    for (let i = 0; i < 50 && ready === undefined; i++) {
      await sleep(20);
      ready = (await status())?.readyReplicas;
    }
    expect(ready).toBe(3);
  });
});

describe('KubeClient.delete', () => {
  it('is idempotent: deleted, then absent (404 naming the object)', async () => {
    await client.apply(ns);
    await client.apply(deployment(1));
    expect(await client.delete('Deployment', 'apps/v1', 'greentic-t', 'w1')).toBe('deleted');
    expect(await client.delete('Deployment', 'apps/v1', 'greentic-t', 'w1')).toBe('absent');
    expect(await client.get('Deployment', 'apps/v1', 'greentic-t', 'w1')).toBeUndefined();
  });

  it('treats a 404 that does not name the object as a wrong route, never as gone', async () => {
    const wrong = new KubeClient(targetFor(`${fake.url}/not-the-api`));
    try {
      const e = await caught(wrong.delete('Deployment', 'apps/v1', 'greentic-t', 'w1'));
      expect(e.code).toBe('failed');
      expect(e.message).toContain('the API route is wrong');
    } finally {
      await wrong.close();
    }
  });
});

describe('KubeClient with RBAC', () => {
  let rbacFake: FakeApiServer;
  let limited: KubeClient;
  beforeEach(async () => {
    rbacFake = await startFakeApiServer({
      users: {
        'admin-token': { name: 'admin', rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }] },
        'viewer-token': {
          name: 'viewer',
          rules: [{ apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list'], namespace: 'greentic-t' }],
        },
      },
    });
    limited = new KubeClient(targetFor(rbacFake.url, 'viewer-token'));
  });
  afterEach(async () => {
    await limited.close();
    await rbacFake.close();
  });

  it('surfaces 403 as a forbidden error naming the object and the verb', async () => {
    const admin = new KubeClient(targetFor(rbacFake.url, 'admin-token'));
    await admin.apply(ns);
    await admin.close();
    const e = await caught(limited.apply(deployment(1)));
    expect(e.code).toBe('forbidden');
    expect(e.message).toContain('Deployment greentic-t/w1: apply forbidden');
    expect(e.message).toContain('cannot patch resource "deployments"');
  });

  it('answers SelfSubjectAccessReview probes from the rule set', async () => {
    expect(await limited.canI({ verb: 'get', group: 'apps', resource: 'deployments', namespace: 'greentic-t' })).toBe(
      true,
    );
    expect(await limited.canI({ verb: 'get', group: 'apps', resource: 'deployments', namespace: 'other' })).toBe(false);
    expect(
      await limited.canI({ verb: 'delete', group: 'apps', resource: 'deployments', namespace: 'greentic-t' }),
    ).toBe(false);
    expect(await limited.whoAmI()).toBe('viewer');
  });

  it('refuses an unknown token as a credentials error', async () => {
    const stranger = new KubeClient(targetFor(rbacFake.url, 'nope'));
    try {
      expect((await caught(stranger.get('Namespace', 'v1', undefined, 'x'))).code).toBe('credentials');
    } finally {
      await stranger.close();
    }
  });
});

describe('KubeClient transport', () => {
  it('reports an unreachable API server as unavailable, with no hang', async () => {
    const dead = new KubeClient(targetFor('http://127.0.0.1:9'), { timeoutMs: 2000 });
    try {
      expect((await caught(dead.get('Namespace', 'v1', undefined, 'x'))).code).toBe('unavailable');
    } finally {
      await dead.close();
    }
  });

  it('loads server, CA, client certificate and token from a kubeconfig context through @kubernetes/client-node', async () => {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const yaml = `
apiVersion: v1
kind: Config
current-context: a
clusters:
- name: ca
  cluster: { server: "https://a.example:6443", certificate-authority-data: ${b64('CA-A')} }
- name: cb
  cluster: { server: "${fake.url}/", insecure-skip-tls-verify: true }
users:
- name: ua
  user: { client-certificate-data: ${b64('CERT')}, client-key-data: ${b64('KEY')} }
- name: ub
  user: { token: tok-b }
contexts:
- name: a
  context: { cluster: ca, user: ua }
- name: b
  context: { cluster: cb, user: ub }
`;
    const a = await loadKubeTarget({ yaml });
    expect(a.server).toBe('https://a.example:6443');
    expect(String(a.ca)).toBe('CA-A');
    expect(String(a.cert)).toBe('CERT');
    expect(String(a.key)).toBe('KEY');
    const b = await loadKubeTarget({ yaml, context: 'b' });
    expect(b.server).toBe(fake.url);
    expect(b.headers.Authorization).toBe('Bearer tok-b');
    const viaConfig = new KubeClient(b);
    try {
      await viaConfig.apply(ns);
      expect(fake.get('Namespace', undefined, 'greentic-t')).toBeDefined();
    } finally {
      await viaConfig.close();
    }
  });

  it('names the context when a kubeconfig cannot be used', async () => {
    const e = await caught(
      loadKubeTarget({ yaml: 'apiVersion: v1\nkind: Config\ncontexts: []\n', context: 'missing' }),
    );
    expect(e.code).toBe('preflight-failed');
    expect(e.message).toContain('context missing');
  });
});

describe('KubeClient over TLS with a kubeconfig', () => {
  const tls = (f: string) => readFileSync(fileURLToPath(new URL(`../test/fixtures/tls/${f}`, import.meta.url)), 'utf8');
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  let secure: FakeApiServer;
  beforeEach(async () => {
    secure = await startFakeApiServer({
      tls: { key: tls('server.key'), cert: tls('server.crt'), ca: tls('ca.crt') },
      users: { 'cert:cert-user': { name: 'cert-user', rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }] } },
    });
  });
  afterEach(async () => {
    await secure.close();
  });
  const kubeconfig = (ca: string) => `
apiVersion: v1
kind: Config
current-context: secure
clusters:
- name: secure
  cluster: { server: "${secure.url}", certificate-authority-data: ${b64(ca)} }
users:
- name: cert-user
  user: { client-certificate-data: ${b64(tls('client.crt'))}, client-key-data: ${b64(tls('client.key'))} }
contexts:
- name: secure
  context: { cluster: secure, user: cert-user }
`;

  it('verifies the server with the kubeconfig CA and authenticates with the client certificate', async () => {
    const client = new KubeClient(await loadKubeTarget({ yaml: kubeconfig(tls('ca.crt')) }));
    try {
      expect(secure.url.startsWith('https://')).toBe(true);
      expect(await client.whoAmI()).toBe('cert-user');
      expect((await client.apply(ns)).outcome).toBe('created');
    } finally {
      await client.close();
    }
  });

  it('refuses a server its CA does not vouch for', async () => {
    const client = new KubeClient(await loadKubeTarget({ yaml: kubeconfig(tls('client.crt')) }));
    try {
      expect((await caught(client.get('Namespace', 'v1', undefined, 'x'))).code).toBe('unavailable');
    } finally {
      await client.close();
    }
  });
});
