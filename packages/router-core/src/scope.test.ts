import type { RouteDeployment } from '@greentic/deploy-spec';
import { describe, expect, it } from 'vitest';
import { compileRoutingTable } from './routing-table';
import { resolveDeployment, type ScopeInput } from './scope';

function deployment(tenant: string, name: string, match?: RouteDeployment['match']): RouteDeployment {
  return {
    tenant,
    name,
    ...(match ? { match } : {}),
    revisions: [{ id: 'r1', state: 'ready', endpoint: 'http://127.0.0.1:9000', weight: 10_000 }],
  };
}

function resolve(deployments: RouteDeployment[], input: ScopeInput): string {
  const r = compileRoutingTable({ environment: 'local', generation: 1, deployments });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  const d = resolveDeployment(r.table, input);
  return d.kind === 'deployment' ? d.key : `404:${d.reason}`;
}

describe('resolveDeployment', () => {
  const two = [
    deployment('acme', 'support', { hosts: ['support.acme.test'] }),
    deployment('globex', 'support', { hosts: ['support.globex.test'] }),
  ];

  it('maps a host (any case, any port) to its deployment', () => {
    expect(resolve(two, { host: 'Support.Acme.test:8080', path: '/' })).toBe('acme/support');
    expect(resolve(two, { host: 'support.globex.test', path: '/' })).toBe('globex/support');
  });

  it('answers no-match for an unknown host rather than another tenant', () => {
    expect(resolve(two, { host: 'evil.test', path: '/' })).toBe('404:no-match');
    expect(resolve(two, { path: '/' })).toBe('404:no-match');
  });

  it('never routes a request naming a tenant to another tenant, even on a matching host', () => {
    expect(resolve(two, { host: 'support.acme.test', path: '/', tenant: 'globex' })).toBe('404:no-match');
    expect(resolve(two, { host: 'support.acme.test', path: '/', tenant: 'acme' })).toBe('acme/support');
  });

  it('matches path prefixes on segment boundaries, longest first', () => {
    const ds = [
      deployment('acme', 'api', { pathPrefixes: ['/api'] }),
      deployment('acme', 'api-v2', { pathPrefixes: ['/api/v2'] }),
    ];
    expect(resolve(ds, { path: '/api/v2/chat?x=1' })).toBe('acme/api-v2');
    expect(resolve(ds, { path: '/api/v1' })).toBe('acme/api');
    expect(resolve(ds, { path: '/api?q' })).toBe('acme/api');
    expect(resolve(ds, { path: '/apix' })).toBe('404:no-match');
  });

  it('routes by the tenant header alone, and a tenant-scoped deployment needs the header', () => {
    const ds = [
      deployment('acme', 'chat', { tenants: ['acme'] }),
      deployment('globex', 'chat', { tenants: ['globex'] }),
    ];
    expect(resolve(ds, { path: '/', tenant: 'globex' })).toBe('globex/chat');
    expect(resolve(ds, { path: '/', tenant: 'initech' })).toBe('404:no-match');
    expect(resolve(ds, { path: '/' })).toBe('404:no-match');
  });

  it('a single deployment without match serves everything, and two equal matches are ambiguous', () => {
    expect(resolve([deployment('acme', 'support')], { path: '/anything' })).toBe('acme/support');
    expect(resolve([deployment('acme', 'a'), deployment('acme', 'b')], { path: '/' })).toBe('404:ambiguous');
  });

  it('resolves alternating and differently spelled hosts in any order (the host memo never leaks)', () => {
    const r = compileRoutingTable({ environment: 'local', generation: 1, deployments: two });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    const key = (host: string) => {
      const d = resolveDeployment(r.table, { host, path: '/' });
      return d.kind === 'deployment' ? d.key : d.reason;
    };
    for (let i = 0; i < 3; i++) {
      expect(key('support.acme.test')).toBe('acme/support');
      expect(key('SUPPORT.GLOBEX.TEST:443')).toBe('globex/support');
      expect(key('support.acme.test.evil')).toBe('no-match');
      expect(key('Support.Acme.Test')).toBe('acme/support');
      expect(key('[::1]:8080')).toBe('no-match');
    }
  });
});
