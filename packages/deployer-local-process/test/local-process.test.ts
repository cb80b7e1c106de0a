import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RuntimeConfig, validate } from '@greentic/deploy-spec';
import { buildRuntimeConfig, isEnvPackError, type PackContext, type RevisionTarget } from '@greentic/env-pack';
import { createSecretsPack } from '@greentic/secrets-file';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createConformanceFixtures, createDeployer, type LocalProcessFixtures, PACK_ID, plan } from '../src/index';
import { isOurs, readProcStat } from '../src/processes';

const ready = (t: RevisionTarget, weight = 0): RevisionTarget => ({
  ...t,
  revision: { ...t.revision, state: 'ready' },
  weight,
});
const allWorkers: { pid: number; startTime: string }[] = [];
let f: LocalProcessFixtures;
let ctx: PackContext;

function processJson(t: RevisionTarget): { pid: number; port: number; startTime: string } {
  const path = join(ctx.stateDir, 'revisions', t.deployment.name, t.revision.id, 'process.json');
  return JSON.parse(readFileSync(path, 'utf8'));
}

beforeEach(() => {
  f = createConformanceFixtures();
  ctx = f.ctx;
});
afterEach(async () => {
  allWorkers.push(...f.spawnedWorkers());
  await f.cleanup();
});
afterAll(() => {
  // No worker outlives the tests: every pid the deployer reported is gone (or at least not ours any more).
  // Identity is pid + start time, so a pid the kernel handed to an unrelated process is never signalled.
  const alive = allWorkers.filter((w) => isOurs(w));
  for (const w of alive) process.kill(w.pid, 'SIGKILL');
  expect(alive.map((w) => w.pid)).toEqual([]);
});

describe('greentic.deployer.local-process', () => {
  it('runs the revision as its own process on a loopback port, with its identity in the environment', async () => {
    const t = f.healthyTarget('support', 'acme', 'r7');
    const { endpoint, health } = await f.pack.warm(ctx, t, { timeoutMs: 15_000 });
    expect(endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(health.passed).toBe(true);
    const body = (await (await fetch(`${endpoint}/hello`)).json()) as Record<string, string>;
    expect(body).toMatchObject({
      environment: 'conformance',
      tenant: 'acme',
      deployment: 'support',
      revision: 'r7',
      bundleDigest: t.bundle.digest,
    });
    const rec = processJson(t);
    expect(rec.pid).not.toBe(process.pid);
    expect(`http://127.0.0.1:${rec.port}`).toBe(endpoint);
    const log = readFileSync(join(ctx.stateDir, 'revisions', 'support', 'r7', 'worker.log'), 'utf8');
    expect(log).toContain('listening on 127.0.0.1');
  });

  it('a second command (a new deployer instance) sees and reuses the processes the first one started', async () => {
    const t = f.healthyTarget('support', 'acme', 'r1');
    const first = await f.pack.warm(ctx, t, { timeoutMs: 15_000 });
    const again = createDeployer({
      config: { bundlesDir: fileURLToPath(new URL('../../../examples/', import.meta.url)) },
    });
    const live = await again.status(ctx);
    expect(live.revisions).toEqual([
      expect.objectContaining({ deployment: 'support', revision: 'r1', phase: 'running', endpoint: first.endpoint }),
    ]);
    const second = await again.warm(ctx, t, { timeoutMs: 15_000 });
    expect(second.endpoint).toBe(first.endpoint);
    expect(f.spawnedPids()).toHaveLength(1);
  });

  it('two commands warming the same revision at once take turns and share one worker', async () => {
    const t = f.healthyTarget('support', 'acme', 'r11');
    const other = createDeployer({
      config: { bundlesDir: fileURLToPath(new URL('../../../examples/', import.meta.url)) },
    });
    const [a, b] = await Promise.all([
      f.pack.warm(ctx, t, { timeoutMs: 15_000 }),
      other.warm(ctx, t, { timeoutMs: 15_000 }),
    ]);
    expect(a.endpoint).toBe(b.endpoint);
    expect(f.spawnedPids()).toHaveLength(1);
    expect(readdirSync(join(ctx.stateDir, 'revisions', 'support', 'r11')).sort()).toEqual([
      'process.json',
      'revision.json',
      'worker.log',
    ]);
  });

  it('starts workers detached: they outlive the command that started them', async () => {
    const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));
    expect(
      existsSync(dist),
      'build the package first (pnpm turbo run build --filter=@greentic/deployer-local-process...)',
    ).toBe(true);
    const t = f.healthyTarget('support', 'acme', 'r2');
    const script = `
      const { createDeployer } = await import(${JSON.stringify(dist)});
      const [ctx, target] = JSON.parse(process.argv[1]);
      const d = createDeployer({ config: { bundlesDir: ${JSON.stringify(fileURLToPath(new URL('../../../examples/', import.meta.url)))} } });
      const r = await d.warm(ctx, target, { timeoutMs: 15000 });
      process.stdout.write(r.endpoint);`;
    const child = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        script,
        JSON.stringify([{ environment: ctx.environment, stateDir: ctx.stateDir }, t]),
      ],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(0);
    // The command is gone; its worker still serves, and this process can see and stop it.
    const answer = (await (await fetch(`${out}/`)).json()) as { revision: string };
    expect(answer.revision).toBe('r2');
    const rec = processJson(t);
    allWorkers.push(rec);
    expect((await f.pack.status(ctx)).revisions[0]).toMatchObject({ phase: 'running', endpoint: out });
    await f.pack.archive(ctx, t);
    expect(isOurs(rec)).toBe(false);
  });

  it('a worker that exits at start fails warm at once with its last log lines', async () => {
    const t = f.healthyTarget('support', 'acme', 'r3');
    const broken: RevisionTarget = {
      ...t,
      revision: { ...t.revision, packConfig: { [PACK_ID]: { 'env.HELLO_FAIL': 'start' } } },
    };
    const started = Date.now();
    const err = await f.pack.warm(ctx, broken, { timeoutMs: 10_000 }).catch((e: unknown) => e);
    expect(isEnvPackError(err, 'unhealthy')).toBe(true);
    expect((err as Error).message).toContain('revision r3 of conformance/support');
    expect((err as Error).message).toContain('injected failure: HELLO_FAIL=start');
    expect(Date.now() - started).toBeLessThan(9_000); // did not sit out the budget
    expect((await f.pack.status(ctx)).revisions[0]?.phase).toBe('stopped');
  });

  it('a worker that never passes its health check fails warm at the budget: stopped, last log lines in the error', async () => {
    const t = f.failingTarget('support', 'acme', 'r14');
    const started = Date.now();
    const err = await f.pack.warm(ctx, t, { timeoutMs: 1_500 }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(6_000);
    expect(isEnvPackError(err, 'unhealthy')).toBe(true);
    const message = (err as Error).message;
    expect(message).toContain('revision r14 of conformance/support: GET /healthz did not pass within 1500 ms');
    expect(message).toContain('last: GET /healthz answered 503');
    expect(message).toContain('worker stopped. Last log lines:\n[hello-worker r14] listening on 127.0.0.1:');
    expect((err as { details?: { lastLogLines?: string[] } }).details?.lastLogLines?.length).toBeGreaterThan(0);
    const [worker] = f.spawnedWorkers();
    expect(isOurs(worker!)).toBe(false);
    expect((await f.pack.status(ctx)).revisions[0]).toMatchObject({ revision: 'r14', phase: 'stopped' });
  });

  it('drain waits for in-flight requests before SIGTERM, so even a worker without a graceful stop loses none', async () => {
    const t = f.healthyTarget('support', 'acme', 'r13');
    const abrupt: RevisionTarget = {
      ...t,
      revision: { ...t.revision, packConfig: { [PACK_ID]: { 'env.HELLO_SIGTERM': 'exit' } } },
    };
    const { endpoint } = await f.pack.warm(ctx, abrupt, { timeoutMs: 15_000 });
    const answer = fetch(`${endpoint}/slow?ms=800`).then(async (r) => ({ status: r.status, body: await r.text() }));
    // The worker has the request once its health answer counts it.
    for (let i = 0; i < 50; i++) {
      const h = (await (await fetch(`${endpoint}/healthz`)).json()) as { inFlight: number };
      if (h.inFlight === 1) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const started = Date.now();
    await f.pack.drain(ctx, { ...abrupt, revision: { ...abrupt.revision, state: 'draining' } }, { timeoutMs: 5_000 });
    expect(Date.now() - started).toBeLessThan(4_000); // SIGTERM right after the request finished, not at the budget
    expect(await answer).toMatchObject({ status: 200 });
    const log = readFileSync(join(ctx.stateDir, 'revisions', 'support', 'r13', 'worker.log'), 'utf8');
    expect(log).toContain('SIGTERM: exiting at once (HELLO_SIGTERM=exit), 0 request(s) in flight');
    expect((await f.pack.status(ctx)).revisions[0]?.phase).toBe('stopped');
  });

  it('never treats a reused pid as its worker, and never signals it', async () => {
    const t = f.healthyTarget('support', 'acme', 'r4');
    await f.pack.warm(ctx, t, { timeoutMs: 15_000 });
    const rec = processJson(t);
    process.kill(rec.pid, 'SIGKILL');
    // An unrelated process now holds the pid the record names (simulated: point the record at one).
    const bystander = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)'], { stdio: 'ignore' });
    try {
      const path = join(ctx.stateDir, 'revisions', 'support', 'r4', 'process.json');
      writeFileSync(path, JSON.stringify({ ...rec, pid: bystander.pid }));
      const live = await f.pack.status(ctx);
      expect(live.revisions[0]).toMatchObject({ phase: 'absent' });
      expect(live.revisions[0]?.detail).toContain(`pid ${bystander.pid} now belongs to another process`);
      await f.pack.archive(ctx, t);
      expect(readProcStat(bystander.pid!)?.state).not.toBe('Z');
      expect(bystander.exitCode).toBeNull();
    } finally {
      bystander.kill('SIGKILL');
    }
  });

  it('warm replaces a worker that was changed behind its back with one serving the right bundle', async () => {
    const t = f.healthyTarget('support', 'acme', 'r12');
    const first = await f.pack.warm(ctx, t, { timeoutMs: 15_000 });
    await f.tamper.changeWorker(t);
    expect((await f.pack.status(ctx)).revisions[0]).toMatchObject({ phase: 'unhealthy' });
    const second = await f.pack.warm(ctx, t, { timeoutMs: 15_000 });
    expect(second.endpoint).not.toBe(first.endpoint);
    expect((await f.pack.status(ctx)).revisions[0]).toMatchObject({ phase: 'running', bundleDigest: t.bundle.digest });
    const [old] = f.spawnedWorkers();
    expect(f.spawnedWorkers()).toHaveLength(2);
    expect(isOurs(old!)).toBe(false);
  });

  it('refuses to reuse a revision id for another bundle (revisions are immutable)', async () => {
    const t = f.healthyTarget('support', 'acme', 'r5');
    await f.pack.apply(ctx, t);
    const other = { ...t, bundle: { ...t.bundle, digest: `sha256:${'a'.repeat(64)}` } };
    const err = await f.pack.apply(ctx, other).catch((e: unknown) => e);
    expect(isEnvPackError(err, 'conflict')).toBe(true);
    expect((err as Error).message).toContain('Stage a new revision instead');
  });

  it('names the fix when a bundle cannot be located or has no command', async () => {
    const bare = createDeployer({ config: {} });
    const t = f.healthyTarget('support', 'acme', 'r6');
    const err = await bare.apply(ctx, t).catch((e: unknown) => e);
    expect(isEnvPackError(err, 'refused')).toBe(true);
    expect((err as Error).message).toContain('bundlesDir');
    const noCommand = { ...t, bundle: { ...t.bundle, launch: { image: 'ghcr.io/acme/bot:1' } } };
    const err2 = await f.pack.apply(ctx, noCommand).catch((e: unknown) => e);
    expect(isEnvPackError(err2, 'unsupported')).toBe(true);
    expect(existsSync(join(ctx.stateDir, 'revisions', 'support', 'r6'))).toBe(false);
  });

  it('publishes the runtime config atomically where the dispatcher watches, and refuses a broken one', async () => {
    const a = f.healthyTarget('support', 'acme', 'r1');
    const b = f.healthyTarget('support', 'acme', 'r2');
    await f.pack.warm(ctx, a, { timeoutMs: 15_000 });
    await f.pack.warm(ctx, b, { timeoutMs: 15_000 });
    const desired = { environment: ctx.environment, targets: [ready(a, 9_000), ready(b, 1_000)] };
    const cfg = f.pack.runtimeConfig(desired, await f.pack.status(ctx), 3);
    await f.pack.publishRoutes(ctx, cfg);
    const dir = join(ctx.stateDir, 'runtime-config');
    expect(readdirSync(dir)).toEqual(['runtime-config.json']); // no temporary file left behind
    const onDisk = JSON.parse(readFileSync(join(dir, 'runtime-config.json'), 'utf8')) as RuntimeConfig;
    expect(validate('runtime-config', onDisk).ok).toBe(true);
    expect(onDisk.deployments[0]?.revisions.map((r) => [r.id, r.weight])).toEqual([
      ['r1', 9_000],
      ['r2', 1_000],
    ]);
    const broken: RuntimeConfig = {
      ...cfg,
      generation: 4,
      deployments: cfg.deployments.map((d) => ({ ...d, revisions: d.revisions.map((r) => ({ ...r, weight: 100 })) })),
    };
    const err = await f.pack.publishRoutes(ctx, broken).catch((e: unknown) => e);
    expect(isEnvPackError(err, 'refused')).toBe(true);
    expect((err as Error).message).toContain('weights sum to 200 bps');
    expect(JSON.parse(readFileSync(join(dir, 'runtime-config.json'), 'utf8'))).toEqual(onDisk);
    // A lower generation never goes backwards on disk.
    await f.pack.publishRoutes(
      ctx,
      f.pack.runtimeConfig({ ...desired, targets: [ready(a, 10_000), ready(b)] }, await f.pack.status(ctx), 1),
    );
    const later = JSON.parse(readFileSync(join(dir, 'runtime-config.json'), 'utf8')) as RuntimeConfig;
    expect(later.generation).toBe(4);
  });

  it('plans the steps that converge the live processes with the store', async () => {
    const a = f.healthyTarget('support', 'acme', 'r1');
    const b = f.healthyTarget('support', 'acme', 'r2');
    await f.pack.warm(ctx, a, { timeoutMs: 15_000 });
    const live = await f.pack.status(ctx);
    const desired = {
      environment: ctx.environment,
      targets: [{ ...ready(a), revision: { ...a.revision, state: 'draining' as const } }, ready(b, 10_000)],
    };
    expect(plan(desired, live).map((x) => `${x.kind} ${'revision' in x ? x.revision : ''}`.trim())).toEqual([
      'drain r1',
      'create r2',
      'warm r2',
      'route',
    ]);
    expect(plan({ environment: ctx.environment, targets: [ready(a, 10_000)] }, live)).toEqual([]);
    expect(buildRuntimeConfig(desired, live, 1).deployments[0]?.revisions).toEqual([
      { id: 'r1', state: 'draining', endpoint: live.revisions[0]?.endpoint, weight: 0 },
    ]);
  });

  it('derives a minimal grant (mode B) and verifies keys in both directions (mode A) without echoing them', async () => {
    const master = {
      value: JSON.stringify({
        subject: 'root',
        permissions: [
          ...f.pack.credentials.requirements(ctx),
          { resource: 'process', verbs: ['ptrace'], scope: 'host' },
        ],
      }),
    };
    const rules = await f.pack.credentials.bootstrap(ctx, master);
    expect(validate('rules-pack', rules).ok).toBe(true);
    const grant = rules.files[0]!.content;
    expect(grant).not.toContain('ptrace');
    expect(await f.pack.credentials.verify(ctx, { value: grant })).toMatchObject({ ok: true, missing: [], extra: [] });
    const tooWide = await f.pack.credentials.verify(ctx, master);
    expect(tooWide).toMatchObject({ ok: false, missing: [], extra: [{ resource: 'process', verbs: ['ptrace'] }] });
    const err = await f.pack.credentials.verify(ctx, { value: 'hunter2-not-json' }).catch((e: unknown) => e);
    expect(isEnvPackError(err, 'credentials')).toBe(true);
    expect((err as Error).message).not.toContain('hunter2');
  });

  it('hands resolved secret:// values to the worker and to nothing else (state files, logs)', async () => {
    const secrets = createSecretsPack();
    const value = 'xoxb-secret-value-123456';
    const withSecrets: PackContext = { ...ctx, secrets: secrets.resolver(ctx) };
    await secrets.set(ctx, 'secret://local/slack/bot-token', value);
    const t = f.healthyTarget('support', 'acme', 'r8');
    const needs = { ...t, revision: { ...t.revision, secretRefs: ['secret://local/slack/bot-token'] } };
    await f.pack.warm(withSecrets, needs, { timeoutMs: 15_000 });
    const environ = readFileSync(`/proc/${processJson(needs).pid}/environ`, 'utf8').split('\0');
    expect(environ).toContain(`GREENTIC_SECRET_SLACK_BOT_TOKEN=${value}`);
    const dir = join(ctx.stateDir, 'revisions', 'support', 'r8');
    for (const file of readdirSync(dir)) expect(readFileSync(join(dir, file), 'utf8')).not.toContain(value);
    // Without a secrets pack the revision is refused up front, naming the reference.
    const other = { ...needs, revision: { ...needs.revision, id: 'r9' } };
    const err = await f.pack.warm(ctx, other, { timeoutMs: 5_000 }).catch((e: unknown) => e);
    expect(isEnvPackError(err, 'refused')).toBe(true);
    expect((err as Error).message).toContain('secret://local/slack/bot-token');
    const missing = { ...needs, revision: { ...needs.revision, id: 'r10', secretRefs: ['secret://local/absent'] } };
    const err2 = await f.pack.warm(withSecrets, missing, { timeoutMs: 5_000 }).catch((e: unknown) => e);
    expect(isEnvPackError(err2, 'not-found')).toBe(true);
    expect((err2 as Error).message).toContain('secret://local/absent');
  });

  it('preflight reports the state folder and process identity checks', async () => {
    const report = await f.pack.preflight(ctx);
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => c.name)).toEqual(['node', 'state folder', 'process identity']);
    const unwritable = mkdtempSync(join(tmpdir(), 'greentic-ro-'));
    writeFileSync(join(unwritable, 'file'), '');
    const bad = await f.pack.preflight({ ...ctx, stateDir: join(unwritable, 'file', 'sub') });
    expect(bad.ok).toBe(false);
    expect(bad.checks.find((c) => c.name === 'state folder')?.fix).toContain('writable');
    rmSync(unwritable, { recursive: true, force: true });
  });
});
