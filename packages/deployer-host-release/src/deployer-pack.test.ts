import { fileURLToPath } from 'node:url';
import type { DesiredState, LiveStatus, RevisionTarget } from '@greentic/env-pack';
import { createPackRegistry, isEnvPackError } from '@greentic/env-pack';
import { describe, expect, it } from 'vitest';
import { createDeployer, parseHostDeployerConfig, planHost } from './deployer-pack';
import { PACK_ID } from './ssh-transport';

const config = {
  host: 'agent-1',
  user: 'deploy',
  identityFile: '/keys/deploy',
  knownHostsFile: '/keys/known_hosts',
  root: '/opt/agent',
  instanceStart: 'systemctl start agent@$GREENTIC_INSTANCE',
  instanceStop: 'systemctl stop agent@$GREENTIC_INSTANCE',
  instanceStatus: 'systemctl is-active --quiet agent@$GREENTIC_INSTANCE',
};

const target = (revision: string, state: RevisionTarget['revision']['state'], weight = 0): RevisionTarget =>
  ({
    deployment: { environment: 'prod', name: 'support', tenant: 'acme', billingCustomer: 'acme', bundleId: 'agent' },
    bundle: {
      id: 'agent',
      version: '1.0.0',
      digest: `sha256:${'a'.repeat(64)}`,
      capabilities: [],
      secrets: [],
      runtime: [],
    },
    revision: {
      environment: 'prod',
      deployment: 'support',
      id: revision,
      bundle: { id: 'agent', version: '1.0.0', digest: `sha256:${'a'.repeat(64)}` },
      packConfig: {},
      secretRefs: [],
      state,
      createdAt: '2026-01-01T00:00:00Z',
    },
    weight,
  }) as RevisionTarget;

describe('the host-release env-pack', () => {
  it('is declared in package.json so the registry finds it by name', () => {
    const dir = fileURLToPath(new URL('..', import.meta.url));
    const registry = createPackRegistry({ packageDirs: [dir] });
    expect(registry.describe(PACK_ID)).toMatchObject({
      slot: 'deployer',
      packageName: '@greentic/deployer-host-release',
    });
  });

  it('names the missing config key and refuses a relative root', () => {
    const { host: _h, ...noHost } = config;
    expect(() => createDeployer({ config: noHost })).toThrow(/needs slots\.deployer\.config\.host/);
    expect(() => parseHostDeployerConfig({ ...config, root: 'opt/agent' })).toThrow(/must be an absolute path/);
    // the gtc op host operations need no instance commands; the env-pack does
    const { instanceStart: _s, ...opsOnly } = config;
    expect(parseHostDeployerConfig(opsOnly).root).toBe('/opt/agent');
    expect(() => createDeployer({ config: opsOnly })).toThrow(/needs slots\.deployer\.config\.instanceStart/);
  });

  it('refuses drain and archive while the revision holds traffic, before touching the host', async () => {
    const pack = createDeployer({ config });
    const ctx = { environment: { name: 'prod', slots: {}, config: {} }, stateDir: '/tmp/x' };
    const e = await pack.archive(ctx, target('r1', 'ready', 2500)).catch((x: unknown) => x);
    expect(isEnvPackError(e, 'refused')).toBe(true);
    expect((e as Error).message).toContain('holds 2500 bps');
    await expect(pack.drain(ctx, target('r1', 'ready', 1), { timeoutMs: 100 })).rejects.toThrow(/holds 1 bps/);
  });

  it('plans create+warm for a ready revision with no instance, remove for archived and unknown ones', () => {
    const desired: DesiredState = {
      environment: { name: 'prod', slots: {}, config: {} },
      targets: [target('r1', 'ready', 10_000), target('r2', 'archived')],
    };
    const live: LiveStatus = {
      environment: 'prod',
      observedAt: '2026-01-01T00:00:00Z',
      revisions: [
        { deployment: 'support', tenant: 'acme', revision: 'r2', phase: 'stopped' },
        { deployment: 'support', tenant: 'acme', revision: 'r9', phase: 'running' },
      ],
    };
    expect(planHost(desired, live).map((a) => `${a.kind}:${'revision' in a ? a.revision : ''}`)).toEqual([
      'create:r1',
      'warm:r1',
      'remove:r2',
      'remove:r9',
      'route:',
    ]);
    expect(planHost({ ...desired, targets: [] }, { ...live, revisions: [] })).toEqual([]);
  });
});
