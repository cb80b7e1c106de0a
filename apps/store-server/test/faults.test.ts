import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AuditEntry } from '@greentic/deploy-spec';
import { createHttpStore, type GreenticStore } from '@greentic/store-contract';
import { afterAll, describe, expect, it } from 'vitest';
import { mintToken } from '../src/identity/static-tokens';
import { dropSchema, POSTGRES_URL } from './harness';

// Kill -9 the real server process (the built bin) while 16 clients write with retries. Every acknowledged
// write must survive exactly once with its audit entry, the chain and the integrity check must hold, and
// retrying what was never acknowledged must apply it once or replay it, never twice.

const BIN = resolve(dirname(fileURLToPath(import.meta.url)), '../dist/greentic-store-server.js');
const WRITERS = 16;
const ROUNDS = 4;

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => ok(port));
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'greentic-faults-'));
const token = mintToken();
let child: ChildProcess | undefined;

async function startChild(port: number, storeArgs: readonly string[]): Promise<ChildProcess> {
  const proc = spawn(process.execPath, [BIN, ...storeArgs, '--listen', `127.0.0.1:${port}`], {
    env: { ...process.env, GREENTIC_ADMIN_TOKEN: token },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  proc.stderr?.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-4000);
  });
  await new Promise<void>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`server did not start in 15 s: ${err}`)), 15_000);
    let out = '';
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('listening on')) {
        clearTimeout(timer);
        ok();
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`server exited with ${code} before listening: ${err}`));
    });
  });
  proc.removeAllListeners('exit');
  return proc;
}

function kill9(proc: ChildProcess): Promise<void> {
  return new Promise((ok) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return ok();
    proc.once('exit', () => ok());
    proc.kill('SIGKILL');
  });
}

async function allAudit(store: GreenticStore): Promise<AuditEntry[]> {
  const out: AuditEntry[] = [];
  for (;;) {
    const page = await store.queryAudit({ afterSeq: out.at(-1)?.seq ?? 0, limit: 10_000 });
    out.push(...page);
    if (page.length < 10_000) return out;
  }
}

const schema = `greentic_faults_${randomBytes(6).toString('hex')}`;
afterAll(async () => {
  if (child !== undefined) await kill9(child);
  rmSync(dir, { recursive: true, force: true });
  await dropSchema(schema);
});

const BACKENDS: readonly (readonly [string, readonly string[]])[] = [
  ['sqlite', ['--db', join(dir, 'store.db')]],
  ['postgres', ['--postgres', POSTGRES_URL, '--postgres-schema', schema]],
];

describe.each(BACKENDS)('kill -9 under 16 writers (%s)', (_name, storeArgs) => {
  it('keeps every acknowledged write exactly once with its audit entry, and retries apply once', async () => {
    if (!existsSync(BIN))
      throw new Error(
        `build the server first (pnpm turbo run build --filter=greentic-store-server...): ${BIN} is missing`,
      );
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const client = () =>
      createHttpStore({
        baseUrls: url,
        token,
        timeoutMs: 3000,
        retry: { attempts: 80, baseDelayMs: 20, maxDelayMs: 250 },
      });
    const admin = client();
    child = await startChild(port, storeArgs);
    await admin.putEnvironment(
      { name: 'faults', slots: {}, config: {} },
      { actor: 'admin', idempotencyKey: 'faults-env' },
    );

    const acked: string[] = [];
    const unacked: { name: string; key: string }[] = [];
    let stop = false;
    const writer = async (w: number) => {
      const store = client();
      for (let n = 0; !stop; n++) {
        const name = `w${w}-${n}`;
        const key = `fault-${name}`;
        try {
          await store.putSecretRef('faults', name, `secret://vault/faults/${name}`, {
            actor: 'admin',
            idempotencyKey: key,
          });
          acked.push(name);
        } catch {
          unacked.push({ name, key });
        }
      }
    };
    const writers = Array.from({ length: WRITERS }, (_, w) => writer(w));

    const verify = async () => {
      const ackedNow = [...acked];
      const refs = new Set((await admin.listSecretRefs('faults')).map((r) => r.value.name));
      for (const name of ackedNow) expect(refs.has(name), `acknowledged ${name} is missing`).toBe(true);
      const applied = new Map<string, number>();
      for (const e of await allAudit(admin)) {
        if (e.action === 'secret-ref.put' && e.outcome === 'applied')
          applied.set(e.target, (applied.get(e.target) ?? 0) + 1);
      }
      for (const name of ackedNow) expect(applied.get(`faults/${name}`), `audit entries of ${name}`).toBe(1);
      for (const [target, count] of applied) expect(count, `audit entries of ${target}`).toBe(1);
      expect((await admin.verifyAudit()).ok).toBe(true);
      expect((await admin.verifyIntegrity()).ok).toBe(true);
      return ackedNow.length;
    };

    const seen: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      await new Promise((ok) => setTimeout(ok, 350 + round * 50));
      await kill9(child);
      child = await startChild(port, storeArgs);
      seen.push(await verify());
    }
    stop = true;
    await Promise.all(writers);

    // Retry what was never acknowledged with the same keys; then retry some acknowledged ones too.
    for (const { name, key } of unacked) {
      await admin.putSecretRef('faults', name, `secret://vault/faults/${name}`, {
        actor: 'admin',
        idempotencyKey: key,
      });
      acked.push(name);
    }
    for (const name of acked.slice(0, 20)) {
      const again = await admin.putSecretRef('faults', name, `secret://vault/faults/${name}`, {
        actor: 'admin',
        idempotencyKey: `fault-${name}`,
      });
      expect(again.replayed).toBe(true);
    }
    const total = await verify();
    expect(total).toBeGreaterThan(WRITERS * ROUNDS);
    expect(seen.every((n, i) => i === 0 || n >= (seen[i - 1] ?? 0))).toBe(true);
    await kill9(child);
    child = undefined;
  }, 90_000);
});
