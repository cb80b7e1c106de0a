import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../src/index';
import { type GtcResult, gtc, tempDir } from './helpers';
import { type StoreServerProcess, startStoreServerProcess } from './store-server';
import { killWorkers } from './workers';

const HELLO = resolve(import.meta.dirname, '../../../examples/hello-worker');

// The same command set, run in-process with captured output, against the local SQLite store and against a real
// greentic-store-server process (HTTP). Workers are real local processes; every test leaves nothing running.
describe.each(['local', 'remote'] as const)('gtc op against the %s store', { timeout: 90_000 }, (backend) => {
  let home: { dir: string; remove: () => void };
  let server: StoreServerProcess | undefined;
  let env: Record<string, string>;
  const run = (argv: string[], stdin?: string): Promise<GtcResult> =>
    gtc(argv, { env, cwd: home.dir, ...(stdin === undefined ? {} : { stdin }) });
  const ok = async (argv: string[], stdin?: string): Promise<GtcResult> => {
    const r = await run(argv, stdin);
    expect(r.code, `gtc ${argv.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
    return r;
  };

  beforeAll(async () => {
    home = tempDir(`gtc-${backend}-`);
    env = { GREENTIC_HOME: join(home.dir, 'home'), GREENTIC_ACTOR: 'tester' };
    if (backend === 'remote') {
      server = await startStoreServerProcess(home.dir);
      env.GREENTIC_STORE_URL = server.url;
      env.GREENTIC_TOKEN = server.token;
    }
  });

  afterAll(async () => {
    if (home) killWorkers(join(home.dir, 'home'));
    await server?.stop();
    home?.remove();
  });

  it('creates the local environment on first use with the default packs, and heals a missing slot', async () => {
    const first = await ok(['op', 'env', 'list', '--json']);
    const local = first
      .json<{ environments: { name: string; slots: Record<string, { id: string }> }[] }>()
      .environments.find((e) => e.name === 'local');
    expect(local?.slots.deployer?.id).toBe('greentic.deployer.local-process');
    expect(local?.slots.secrets?.id).toBe('greentic.secrets.file');
    expect(first.stderr).toContain('created the local environment');

    await ok(['op', 'env-packs', 'detach', 'secrets']);
    const healed = await ok(['op', 'env', 'get', 'local', '--json']);
    expect(healed.stderr).toContain(
      'repaired the local environment: its secrets slot was empty, attached greentic.secrets.file',
    );
    expect(healed.json<{ environment: { slots: Record<string, unknown> } }>().environment.slots.secrets).toEqual({
      id: 'greentic.secrets.file',
    });
  });

  it('creates, reads and refuses to re-create an environment, naming the next step', async () => {
    await ok(['op', 'env', 'create', 'staging', '--config', 'replicas=2', '--label', 'team=ops']);
    const got = await ok(['op', 'env', 'get', 'staging', '--json']);
    expect(got.json<{ environment: { config: Record<string, unknown> } }>().environment.config).toEqual({
      replicas: 2,
    });
    const again = await run(['op', 'env', 'create', 'staging']);
    expect(again.code).toBe(EXIT_CODES.conflict);
    expect(again.stderr).toContain('environment staging already exists');
    expect(again.stderr).toContain('gtc op env get staging');
    const missing = await run(['op', 'env', 'get', 'nowhere', '--json']);
    expect(missing.code).toBe(EXIT_CODES['not-found']);
    expect(missing.json<{ error: { family: string } }>().error.family).toBe('not-found');
  });

  it('sets and reads config, and replays a retried command instead of applying it twice', async () => {
    await ok(['op', 'config', 'set', 'log.level=debug', 'port="8080"', '--env', 'staging']);
    const c = await ok(['op', 'config', 'get', '--env', 'staging', '--json']);
    expect(c.json<{ config: Record<string, unknown> }>().config).toEqual({
      replicas: 2,
      'log.level': 'debug',
      port: '8080',
    });
    const one = await ok(['op', 'config', 'get', 'log.level', '--env', 'staging']);
    expect(one.stdout.trim()).toBe('debug');

    // The same idempotency key with a different request is refused: a retried command never applies twice.
    await ok(['op', 'config', 'set', 'mode=a', '--env', 'staging', '--idempotency-key', 'retry-1']);
    const reused = await run(['op', 'config', 'set', 'mode=b', '--env', 'staging', '--idempotency-key', 'retry-1']);
    expect(reused.code).toBe(EXIT_CODES.conflict);
    const after = await ok(['op', 'config', 'get', 'mode', '--env', 'staging']);
    expect(after.stdout.trim()).toBe('a');
    await ok(['op', 'config', 'set', '--unset', 'mode', '--env', 'staging']);
  });

  it('publishes a bundle folder as two versions, and refuses different content under a published version', async () => {
    const v1 = await ok(['op', 'bundles', 'publish', HELLO, '--version', '1.0.0', '--json']);
    expect(v1.json<{ bundle: { id: string; digest: string } }>().bundle.id).toBe('hello-worker');
    await ok(['op', 'bundles', 'publish', HELLO, '--version', '2.0.0']);
    const same = await ok(['op', 'bundles', 'publish', HELLO, '--version', '2.0.0']);
    expect(same.stdout).toContain('already published with the same content');
    const list = await ok(['op', 'bundles', 'list', 'hello-worker', '--json']);
    expect(
      list
        .json<{ bundles: { version: string }[] }>()
        .bundles.map((b) => b.version)
        .sort(),
    ).toEqual(['1.0.0', '2.0.0']);
    const got = await ok(['op', 'bundles', 'get', 'hello-worker', '--json']);
    expect(got.json<{ bundle: { version: string } }>().bundle.version).toBe('2.0.0');
  });

  it('rolls out: stage, warm, 100/0 → 90/10 → 0/100, refuses to drain a revision with traffic, drains and archives', async () => {
    await ok(['op', 'deployments', 'create', 'support', '--bundle', 'hello-worker', '--tenant', 'acme']);
    await ok(['op', 'revisions', 'stage', 'support', '--bundle-version', '1.0.0']);
    const staged = await ok(['op', 'revisions', 'stage', 'support', '--bundle-version', '2.0.0', '--json']);
    expect(staged.json<{ revision: { id: string; state: string } }>().revision).toMatchObject({
      id: 'r2',
      state: 'staged',
    });

    const early = await run(['op', 'traffic', 'set', 'support', 'r1=100']);
    expect(early.code).toBe(EXIT_CODES.conflict);
    expect(early.stderr).toContain('gtc op revisions warm support r1');

    const w1 = await ok(['op', 'revisions', 'warm', 'support', 'r1', '--json']);
    expect(w1.json<{ revision: { state: string }; endpoint: string }>().revision.state).toBe('ready');
    await ok(['op', 'revisions', 'warm', 'support', 'r2']);
    const again = await ok(['op', 'revisions', 'warm', 'support', 'r2']);
    expect(again.stdout).toContain('already ready');

    await ok(['op', 'traffic', 'set', 'support', 'r1=100']);
    const split = await ok(['op', 'traffic', 'set', 'support', 'r1=90', 'r2=10', '--json']);
    expect(split.json<{ after: unknown }>().after).toEqual([
      { revision: 'r1', weight: 9000 },
      { revision: 'r2', weight: 1000 },
    ]);
    const table = await ok(['op', 'traffic', 'get', 'support']);
    expect(table.stdout).toMatch(/r1\s+90%\s+9000/);

    const refused = await run(['op', 'revisions', 'drain', 'support', 'r1']);
    expect(refused.code).toBe(EXIT_CODES.conflict);
    expect(refused.stderr).toContain('revision r1 of local/support holds 90% of traffic');
    expect(refused.stderr).toContain('move its traffic first: gtc op traffic set support r2=100');

    await ok(['op', 'traffic', 'set', 'support', 'r2=100']);
    await ok(['op', 'traffic', 'rollback', 'support']);
    expect((await ok(['op', 'traffic', 'get', 'support', '--json'])).json<{ entries: unknown }>().entries).toEqual([
      { revision: 'r1', weight: 9000 },
      { revision: 'r2', weight: 1000 },
    ]);
    await ok(['op', 'traffic', 'set', 'support', 'r2=100']);
    const history = await ok(['op', 'traffic', 'history', 'support', '--json']);
    expect(history.json<{ history: unknown[] }>().history).toHaveLength(5);

    await ok(['op', 'revisions', 'drain', 'support', 'r1']);
    await ok(['op', 'revisions', 'archive', 'support', 'r1']);
    const revs = await ok(['op', 'revisions', 'list', 'support', '--json']);
    expect(revs.json<{ revisions: { id: string; state: string; weight: number }[] }>().revisions).toEqual([
      expect.objectContaining({ id: 'r1', state: 'archived', weight: 0 }),
      expect.objectContaining({ id: 'r2', state: 'ready', weight: 10000 }),
    ]);
    // The router's runtime config, published through the deployer, follows the store.
    const routes = JSON.parse(
      readFileSync(
        join(env.GREENTIC_HOME!, 'state/local/greentic.deployer.local-process/runtime-config/runtime-config.json'),
        'utf8',
      ),
    ) as { deployments: { revisions: { id: string; weight: number }[] }[] };
    expect(routes.deployments[0]?.revisions.map((r) => [r.id, r.weight])).toEqual([['r2', 10000]]);

    const status = await ok(['op', 'status', '--json']);
    expect(status.json<{ drift: number; revisions: { revision: string; live: string }[] }>()).toMatchObject({
      drift: 0,
    });
    const deployment = await ok(['op', 'deployments', 'get', 'support', '--json']);
    expect(deployment.json<{ deployment: { tenant: string } }>().deployment.tenant).toBe('acme');
    expect((await ok(['op', 'deployments', 'list'])).stdout).toMatch(/support\s+hello-worker\s+acme/);
    expect((await ok(['op', 'revisions', 'get', 'support', 'r2'])).stdout).toMatch(/state\s+ready/);
  });

  it('marks a revision failed when its health gate never passes, and says what to do next', async () => {
    await ok(['op', 'env', 'create', 'broken']);
    await ok([
      'op',
      'env-packs',
      'attach',
      'greentic.deployer.local-process',
      '--env',
      'broken',
      '--config',
      'env.HELLO_FAIL=health',
    ]);
    await ok(['op', 'deployments', 'create', 'web', '--bundle', 'hello-worker', '--env', 'broken']);
    await ok(['op', 'revisions', 'stage', 'web', '--env', 'broken']);
    const warm = await run(['op', 'revisions', 'warm', 'web', 'r1', '--env', 'broken', '--timeout', '2']);
    expect([EXIT_CODES['check-failed'], EXIT_CODES.unavailable]).toContain(warm.code);
    expect(warm.stderr).toContain('r1 of broken/web failed to warm');
    expect(warm.stderr).toContain('gtc op revisions archive web r1');
    const r = await ok(['op', 'revisions', 'get', 'web', 'r1', '--env', 'broken', '--json']);
    expect(r.json<{ revision: { state: string } }>().revision.state).toBe('failed');
    await ok(['op', 'revisions', 'archive', 'web', 'r1', '--env', 'broken']);
  });

  it('reports drift when a worker dies behind its back, and exits with the failed-check code', async () => {
    const record = join(
      env.GREENTIC_HOME!,
      'state/local/greentic.deployer.local-process/revisions/support/r2/process.json',
    );
    const { pid } = JSON.parse(readFileSync(record, 'utf8')) as { pid: number };
    process.kill(pid, 'SIGKILL');
    let status: GtcResult | undefined;
    for (let i = 0; i < 50; i++) {
      status = await run(['op', 'status']);
      if (status.code !== 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(status?.code).toBe(EXIT_CODES['check-failed']);
    expect(status?.stdout).toMatch(/drift support\/r2: the store says ready, the live system says (absent|unhealthy)/);
  });

  it('keeps secret values in the secrets pack and only references in the store', async () => {
    await ok(['op', 'secrets', 'set', 'support/api-key'], 'hunter2-value\n');
    const list = await ok(['op', 'secrets', 'list', '--json']);
    expect(list.json<{ secrets: unknown[] }>().secrets).toEqual([
      { name: 'support.api-key', ref: 'secret://local/support/api-key', present: true },
    ]);
    const audit = await ok(['op', 'audit', 'list', '--limit', '500', '--json']);
    expect(audit.stdout).not.toContain('hunter2-value');
    await ok(['op', 'secrets', 'delete', 'support/api-key']);
    expect((await ok(['op', 'secrets', 'list', '--json'])).json<{ secrets: unknown[] }>().secrets).toEqual([]);
    const empty = await run(['op', 'secrets', 'set', 'support/empty'], '');
    expect(empty.code).toBe(EXIT_CODES.usage);
  });

  it('lists the audit trail with refusals, verifies it, verifies and backs up the store', async () => {
    const refused = await ok(['op', 'audit', 'list', '--outcome', 'refused', '--json']);
    expect(refused.json<{ entries: { outcome: string }[] }>().entries.length).toBeGreaterThan(0);
    const applied = await ok(['op', 'audit', 'list', '--env', 'local', '--limit', '3']);
    expect(applied.stdout).toContain('ACTION');
    expect((await ok(['op', 'audit', 'verify'])).stdout).toContain('audit chain verified');
    expect((await ok(['op', 'store', 'verify', '--json'])).json<{ ok: boolean }>().ok).toBe(true);
    const file = join(home.dir, `backup-${backend}.db`);
    const backup = await ok(['op', 'store', 'backup', file, '--json']);
    expect(backup.json<{ manifest: { file: string } }>().manifest.file).toBe(file);
    expect(existsSync(`${file}.manifest.json`)).toBe(true);
  });

  it('shows the credentials the deployer needs', async () => {
    const r = await ok(['op', 'credentials', 'requirements', '--json']);
    const body = r.json<{ pack: string; requirements: { resource: string }[] }>();
    expect(body.pack).toBe('greentic.deployer.local-process');
    expect(body.requirements.length).toBeGreaterThan(0);
  });

  it('lists installed env-packs and which slots they fill', async () => {
    const r = await ok(['op', 'env-packs', 'list', '--json']);
    const packs = r.json<{ packs: { id: string; attached: boolean }[] }>().packs;
    expect(packs).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ id: 'greentic.deployer.local-process', attached: true }),
        expect.objectContaining({ id: 'greentic.secrets.file', attached: true }),
      ]),
    );
    const unknown = await run(['op', 'env-packs', 'attach', 'greentic.deployer.nope', '--env', 'staging']);
    expect(unknown.code).toBe(EXIT_CODES['not-found']);
    expect(unknown.stderr).toContain('installed: ');
  });

  it('applies a manifest: plan first, --dry-run changes nothing, a second apply changes nothing, --check gates', async () => {
    const digest = (await ok(['op', 'bundles', 'get', 'hello-worker', '1.0.0', '--json'])).json<{
      bundle: { digest: string };
    }>().bundle.digest;
    const manifest = join(home.dir, 'env.yaml');
    const write = (level: string) =>
      writeFileSync(
        manifest,
        [
          'apiVersion: greentic.ai/v1',
          'kind: Environment',
          'name: applied',
          'slots:',
          '  deployer: { id: greentic.deployer.local-process }',
          '  secrets: { id: greentic.secrets.file }',
          `config: { log.level: ${level} }`,
          'deployments:',
          '  - name: web',
          '    tenant: acme',
          '    billingCustomer: acme-billing',
          '    bundleId: hello-worker',
          '    revisions:',
          `      - { id: r1, bundle: { id: hello-worker, version: 1.0.0, digest: "${digest}" } }`,
          '    traffic: [{ revision: r1, weight: 10000 }]',
          '',
        ].join('\n'),
      );
    write('info');
    const dry = await ok(['op', 'env', 'apply', '-f', manifest, '--dry-run']);
    expect(dry.stdout).toContain('+ create environment applied');
    expect(dry.stdout).toContain('↑ warm   revision r1 of applied/web');
    expect((await run(['op', 'env', 'get', 'applied'])).code).toBe(EXIT_CODES['not-found']);
    expect((await run(['op', 'env', 'apply', '-f', manifest, '--check'])).code).toBe(EXIT_CODES['check-failed']);

    const applied = await ok(['op', 'env', 'apply', '-f', manifest]);
    expect(applied.stdout).toContain('warmed r1 of applied/web');
    const second = await ok(['op', 'env', 'apply', '-f', manifest, '--json']);
    expect(second.json<{ converged: boolean; plan: unknown[] }>()).toMatchObject({ converged: true, plan: [] });
    expect((await run(['op', 'env', 'apply', '-f', manifest, '--check'])).code).toBe(0);

    write('debug');
    const drift = await run(['op', 'env', 'apply', '-f', manifest, '--check', '--json']);
    expect(drift.code).toBe(EXIT_CODES['check-failed']);
    expect(drift.json<{ plan: { object: string; detail: string }[] }>().plan).toEqual([
      { action: 'change', object: 'config applied/log.level', detail: '"info" → "debug"' },
    ]);

    writeFileSync(manifest, 'apiVersion: greentic.ai/v1\nkind: Environment\nname: Bad_Name\nslots: {}\n');
    const bad = await run(['op', 'env', 'apply', '-f', manifest]);
    expect(bad.code).toBe(EXIT_CODES.usage);
    expect(bad.stderr).toContain('/name');
  });

  it('bootstraps credentials from a master grant (mode B), rotates to a verified key (mode A), refuses extra rights', async () => {
    const stateDir = join(env.GREENTIC_HOME!, 'state/local/greentic.deployer.local-process');
    const needed = [
      { resource: 'process', verbs: ['signal', 'spawn'], scope: 'host' },
      { resource: `file:${stateDir}`, verbs: ['read', 'write'], scope: 'host' },
      { resource: 'net:127.0.0.1', verbs: ['connect', 'listen'], scope: 'host' },
    ];
    const master = {
      subject: 'root',
      permissions: [...needed, { resource: 'net:*', verbs: ['connect'], scope: 'host' }],
    };
    const out = join(home.dir, `rules-${backend}`);
    const boot = await ok(
      ['op', 'credentials', 'bootstrap', '--master-stdin', '--out', out, '--json'],
      JSON.stringify(master),
    );
    const files = boot.json<{ files: string[] }>().files;
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(existsSync(join(out, f))).toBe(true);
    expect(boot.stdout).not.toContain('net:*');

    await ok(
      ['op', 'secrets', 'set', 'deployer/key-v2'],
      JSON.stringify({ subject: 'gtc-deployer', permissions: needed }),
    );
    const rotated = await ok(['op', 'credentials', 'rotate', '--key-ref', 'secret://local/deployer/key-v2', '--json']);
    expect(rotated.json<{ subject: string }>().subject).toBe('gtc-deployer');
    const record = await ok(['op', 'credentials', 'requirements', '--json']);
    expect(record.json<{ record: { secretRef: string } }>().record.secretRef).toBe('secret://local/deployer/key-v2');

    await ok(['op', 'secrets', 'set', 'deployer/too-much'], JSON.stringify(master));
    const refused = await run(['op', 'credentials', 'rotate', '--key-ref', 'secret://local/deployer/too-much']);
    expect(refused.code).toBe(EXIT_CODES.forbidden);
    expect(refused.stderr).toContain('extra (remove them): net:*');
  });

  it('renders a Kubernetes environment into a folder, then again without changes, leaving foreign files alone', async () => {
    await ok(['op', 'env', 'create', 'zain-prod', '--deployer', 'greentic.deployer.k8s', '--config', 'namespace=zain']);
    const out = join(home.dir, `k8s-${backend}`);
    const first = await ok(['op', 'env', 'render', 'zain-prod', '--out', out, '--json']);
    const added = first.json<{ added: string[] }>().added;
    expect(added.length).toBeGreaterThan(0);
    writeFileSync(join(out, 'mine.yaml'), 'kind: NotOurs\n');
    const second = await ok(['op', 'env', 'render', 'zain-prod', '--out', out, '--json']);
    expect(second.json<{ added: string[]; changed: string[]; removed: string[] }>()).toMatchObject({
      added: [],
      changed: [],
      removed: [],
    });
    expect(readFileSync(join(out, 'mine.yaml'), 'utf8')).toBe('kind: NotOurs\n');
    const local = await run(['op', 'env', 'render', 'local', '--out', out]);
    expect(local.code).toBe(EXIT_CODES.usage);
    expect(local.stderr).toContain('has no declarative form');
  });

  it('deletes an empty environment and refuses one that still has deployments', async () => {
    await ok(['op', 'env', 'delete', 'zain-prod']);
    expect((await run(['op', 'env', 'get', 'zain-prod'])).code).toBe(EXIT_CODES['not-found']);
    const refused = await run(['op', 'env', 'delete', 'local']);
    expect(refused.code).toBe(EXIT_CODES.conflict);
    expect(refused.stderr).toContain('environment local still has 1 deployment(s): support');
  });

  it('restores a verified backup, refusing an older one unless forced', async () => {
    const file = join(home.dir, `backup-${backend}.db`);
    await ok(['op', 'config', 'set', 'after.backup=yes']);
    const older = await run(['op', 'store', 'restore', file]);
    expect(older.code).not.toBe(0);
    expect((await ok(['op', 'config', 'get', 'after.backup'])).stdout.trim()).toBe('yes');
    const forced = await ok(['op', 'store', 'restore', file, '--force', '--json']);
    expect(forced.json<{ forced: boolean }>().forced).toBe(true);
    expect((await run(['op', 'config', 'get', 'after.backup'])).code).toBe(EXIT_CODES['not-found']);
  });
});
