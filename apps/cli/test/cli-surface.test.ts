import { describe, expect, it } from 'vitest';
import { createCli, EXIT_CODES, familyOf, toReport } from '../src/index';
import { gtc } from './helpers';

const COMMANDS = [
  'env list',
  'env get',
  'env create',
  'env delete',
  'env apply',
  'env render',
  'env-packs list',
  'env-packs attach',
  'env-packs detach',
  'env-packs conformance',
  'bundles publish',
  'bundles list',
  'bundles get',
  'deployments create',
  'deployments list',
  'deployments get',
  'revisions stage',
  'revisions warm',
  'revisions drain',
  'revisions archive',
  'revisions list',
  'revisions get',
  'traffic get',
  'traffic set',
  'traffic rollback',
  'traffic history',
  'credentials requirements',
  'credentials bootstrap',
  'credentials rotate',
  'secrets set',
  'secrets list',
  'secrets delete',
  'config get',
  'config set',
  'audit list',
  'audit verify',
  'store backup',
  'store restore',
  'store verify',
  'status',
  'host promote',
  'host rollback',
  'host status',
  'host smoke',
  'host prune',
  'host pkg capture',
  'host pkg promote',
  'host pkg rollback',
];

describe('gtc command surface', () => {
  it('lists every gtc op command in --help', async () => {
    const r = await gtc(['--help']);
    expect(r.code).toBe(0);
    for (const c of COMMANDS) expect(r.stdout).toContain(`gtc op ${c}`);
  });

  it('gives every command its own --help with at least one example', async () => {
    for (const c of COMMANDS) {
      const r = await gtc(['op', ...c.split(' '), '--help']);
      expect(r.code, c).toBe(0);
      expect(r.stdout, c).toContain('Examples');
      expect(r.stdout, c).toContain(`$ gtc op ${c}`);
    }
  });

  it('prints no colour codes when NO_COLOR is set or the output is not a terminal', async () => {
    const r = await gtc(['op', 'traffic', 'set', '--help'], { env: { NO_COLOR: '1', FORCE_COLOR: '1' } });
    expect(r.stdout.includes('\u001b[')).toBe(false);
    const piped = await gtc(['--help'], { env: {} });
    expect(piped.stdout.includes('\u001b[')).toBe(false);
  });

  it('refuses a bad name before touching any store, with the usage exit code', async () => {
    const r = await gtc(['op', 'env', 'get', 'Not_A_Name']);
    expect(r.code).toBe(EXIT_CODES.usage);
    expect(r.stderr).toContain('env');
    const unknown = await gtc(['op', 'trafic', 'set', '--json']);
    expect(unknown.code).toBe(EXIT_CODES.usage);
    expect(unknown.json<{ error: { family: string } }>().error.family).toBe('usage');
  });

  it('refuses hand-typed traffic that does not sum to 100 with exit 2 and says how to write it', async () => {
    const r = await gtc(['op', 'traffic', 'set', 'support', 'r7=90', 'r8=5', '--json']);
    expect(r.code).toBe(EXIT_CODES.usage);
    const body = r.json<{ error: { code: string; message: string; hint: string } }>();
    expect(body.error.message).toContain('95%');
    expect(body.error.hint).toContain('gtc op traffic set support r7=90 r8=10');
  });

  it('registers each path once', () => {
    const cli = createCli();
    const paths = cli.definitions().map((d) => d.path);
    expect(new Set(paths).size).toBe(paths.length);
  });
});

describe('exit codes by error family', () => {
  it('maps store and env-pack codes to the documented families', () => {
    expect(familyOf('store', 'not-found')).toBe('not-found');
    expect(familyOf('store', 'version-conflict')).toBe('conflict');
    expect(familyOf('store', 'lifecycle-refused')).toBe('conflict');
    expect(familyOf('store', 'forbidden')).toBe('forbidden');
    expect(familyOf('store', 'unavailable')).toBe('unavailable');
    expect(familyOf('store', 'corrupt')).toBe('check-failed');
    expect(familyOf('env-pack', 'unknown-pack')).toBe('not-found');
    expect(familyOf('env-pack', 'timeout')).toBe('unavailable');
    expect(familyOf('env-pack', 'unhealthy')).toBe('check-failed');
    expect(familyOf('store', 'something-new')).toBe('failed');
  });

  it('recognises store and env-pack errors by name and code, not by class identity', () => {
    const storeLike = Object.assign(new Error('[store] environment x does not exist'), {
      name: 'StoreError',
      code: 'not-found',
    });
    expect(toReport(storeLike).error.exitCode).toBe(3);
    const packLike = Object.assign(new Error('[greentic.deployer.k8s] forbidden'), {
      name: 'EnvPackError',
      code: 'forbidden',
    });
    expect(toReport(packLike).error.exitCode).toBe(5);
    expect(toReport(new Error('boom')).error.exitCode).toBe(1);
  });

  it('keeps exit codes distinct per family', () => {
    const codes = Object.values(EXIT_CODES);
    expect(new Set(codes).size).toBe(codes.length);
  });
});
