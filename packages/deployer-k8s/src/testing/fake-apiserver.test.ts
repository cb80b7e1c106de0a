import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FakeApiServer, startFakeApiServer } from './fake-apiserver';

// The wire shapes the typed client relies on, checked with plain fetch (what any client would see).
let fake: FakeApiServer;
beforeEach(async () => {
  fake = await startFakeApiServer({ namespaceTerminationMs: 30, availableAfterMs: 10, pods: true });
});
afterEach(async () => {
  await fake.close();
});

const apply = (
  path: string,
  body: unknown,
  query = '?fieldManager=test',
  contentType = 'application/apply-patch+yaml',
) =>
  fetch(`${fake.url}${path}${query}`, {
    method: 'PATCH',
    headers: { 'content-type': contentType },
    body: JSON.stringify(body),
  });
const ns = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'n1' } };
const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c1', namespace: 'n1' }, data: { a: '1' } };

describe('fake API server', () => {
  it('answers a missing object with a NotFound Status naming it, and a wrong route with one that does not', async () => {
    const missing = await fetch(`${fake.url}/api/v1/namespaces/n1/configmaps/c1`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({
      kind: 'Status',
      reason: 'NotFound',
      details: { name: 'c1', kind: 'configmaps' },
    });
    const wrong = await fetch(`${fake.url}/api/v1/namespaces/n1/secretz/c1`);
    expect(wrong.status).toBe(404);
    const body = (await wrong.json()) as { reason: string; details: Record<string, unknown> };
    expect(body.reason).toBe('NotFound');
    expect(body.details.name).toBeUndefined();
  });

  it('refuses an apply without the apply content type (415) or without a field manager (400)', async () => {
    expect((await apply('/api/v1/namespaces/n1', ns, '?fieldManager=t', 'application/merge-patch+json')).status).toBe(
      415,
    );
    expect((await apply('/api/v1/namespaces/n1', ns, '')).status).toBe(400);
  });

  it('creates (201), updates (200), and keeps shared ownership in managedFields', async () => {
    expect((await apply('/api/v1/namespaces/n1', ns)).status).toBe(201);
    expect((await apply('/api/v1/namespaces/n1/configmaps/c1', cm)).status).toBe(201);
    expect((await apply('/api/v1/namespaces/n1/configmaps/c1', cm, '?fieldManager=other')).status).toBe(200);
    const managed = fake.get('ConfigMap', 'n1', 'c1')?.metadata.managedFields as { manager: string }[];
    expect(managed.map((m) => m.manager)).toEqual(['other', 'test']);
    const conflict = await apply(
      '/api/v1/namespaces/n1/configmaps/c1',
      { ...cm, data: { a: '2' } },
      '?fieldManager=other',
    );
    expect(conflict.status).toBe(409);
    expect(await conflict.json()).toMatchObject({
      reason: 'Conflict',
      details: { causes: [{ type: 'FieldManagerConflict', field: '.data.a', message: 'conflict with "test"' }] },
    });
  });

  it('drops fields a manager stops applying', async () => {
    await apply('/api/v1/namespaces/n1', ns);
    await apply('/api/v1/namespaces/n1/configmaps/c1', { ...cm, data: { a: '1', b: '2' } });
    await apply('/api/v1/namespaces/n1/configmaps/c1', cm);
    expect(fake.get('ConfigMap', 'n1', 'c1')?.data).toEqual({ a: '1' });
  });

  it('terminates a namespace: creates in it get 403, then it and its content are gone', async () => {
    await apply('/api/v1/namespaces/n1', ns);
    await apply('/api/v1/namespaces/n1/configmaps/c1', cm);
    expect((await fetch(`${fake.url}/api/v1/namespaces/n1`, { method: 'DELETE' })).status).toBe(200);
    expect(fake.get('Namespace', undefined, 'n1')?.status).toEqual({ phase: 'Terminating' });
    const refused = await apply('/api/v1/namespaces/n1/configmaps/c2', {
      ...cm,
      metadata: { name: 'c2', namespace: 'n1' },
    });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { message: string }).message).toContain('because it is being terminated');
    await sleep(100);
    expect(fake.get('Namespace', undefined, 'n1')).toBeUndefined();
    expect(fake.get('ConfigMap', 'n1', 'c1')).toBeUndefined();
  });

  it('runs an available Deployment as a pod that a Service reaches', async () => {
    await apply('/api/v1/namespaces/n1', ns);
    const labels = { app: 'w' };
    await apply('/apis/apps/v1/namespaces/n1/deployments/w', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'w', namespace: 'n1' },
      spec: {
        replicas: 2,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: { containers: [{ name: 'c', image: 'x', env: [{ name: 'GREENTIC_REVISION', value: 'r9' }] }] },
        },
      },
    });
    await apply('/api/v1/namespaces/n1/services/w', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'w', namespace: 'n1' },
      spec: { selector: labels, ports: [{ port: 8080 }] },
    });
    let ready: number | undefined;
    for (let i = 0; i < 100 && !ready; i++) {
      await sleep(10);
      ready = (fake.get('Deployment', 'n1', 'w')?.status as { readyReplicas?: number } | undefined)?.readyReplicas;
    }
    expect(ready).toBe(2);
    const url = fake.endpointOf('n1', 'w');
    expect(await (await fetch(`${url}/`)).json()).toMatchObject({ revision: 'r9' });
  });
});
