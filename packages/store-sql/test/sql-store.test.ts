import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AuditEntry, bytesDigest, canonicalJson, contentDigest } from '@greentic/deploy-spec';
import { isStoreError, type MutationOptions } from '@greentic/store-contract';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { Kysely, SqliteDialect } from 'kysely';
import { Migrator } from 'kysely/migration';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { chainEntry } from '../src/audit-chain';
import { canonicalDigest, canonicalText, plainCanonicalJson, textDigest } from '../src/digest';
import {
  GENESIS_HASH,
  MIGRATIONS,
  openPostgresStore,
  openSqliteStore,
  SCHEMA_VERSION,
  SqlStore,
  verifyChain,
} from '../src/index';
import { SqliteDriver } from '../src/sqlite-driver';
import { dropSchema, POSTGRES_URL } from './harness';

const opts = (extra: Partial<MutationOptions> = {}): MutationOptions => ({
  actor: 'alice',
  idempotencyKey: randomUUID(),
  ...extra,
});
const env = (name: string, config: Record<string, number | string> = {}) => ({ name, slots: {}, config });

let dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'greentic-sql-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

describe('digests', () => {
  it('the hot-path digests give the same bytes as deploy-spec (stored digests and hashes stay valid)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.string({ unit: 'binary' }), (value, text) => {
        expect(canonicalDigest(value)).toBe(contentDigest(value));
        expect(textDigest(text)).toBe(bytesDigest(text));
      }),
    );
  });

  it("the direct canonical JSON is deploy-spec's, bytes and errors, on any value", () => {
    const outcome = (f: () => string): string => {
      try {
        return `ok ${f()}`;
      } catch (e) {
        return `error ${String(e)}`;
      }
    };
    const deep: unknown[] = [];
    let cur = deep;
    for (let i = 0; i < 200; i++) {
      const next: unknown[] = [];
      cur.push(next);
      cur = next;
    }
    const odd: unknown[] = [
      { b: undefined, a: -0, c: [1, undefined, 2], d: 1e21, e: 5e-7, '\u00e9': 'x', 'e\u0301': 'y', Z: 1, '': null },
      { toJSON: () => ({ z: 1, a: 2 }) },
      { when: new Date(0) },
      [Number.NaN],
      { n: Number.POSITIVE_INFINITY },
      { s: '\ud800' },
      { '\udc00': 1 },
      { boxed: new Number(3), str: new String('s') },
      Object.assign(Object.create(null), { b: 1, a: [true, false, null] }),
      // biome-ignore lint/suspicious/noSparseArray: a hole on purpose
      [1, , 3],
      { f: () => 1, sym: Symbol('x') },
      deep,
      '\u2028 "quoted" \\ \n',
    ];
    for (const v of odd) expect(outcome(() => canonicalText(v))).toBe(outcome(() => canonicalJson(v)));
    fc.assert(
      fc.property(fc.anything(), (value) => {
        expect(outcome(() => canonicalText(value))).toBe(outcome(() => canonicalJson(value)));
        const plain = plainCanonicalJson(value);
        if (plain !== undefined) expect(plain).toBe(canonicalJson(JSON.parse(JSON.stringify(value))));
      }),
    );
  });
});

describe('audit chain', () => {
  const chain = (n: number): AuditEntry[] => {
    const out: AuditEntry[] = [];
    let prev = GENESIS_HASH;
    for (let i = 1; i <= n; i++) {
      const e = chainEntry(
        {
          at: '2026-11-23T10:00:00Z',
          actor: 'alice',
          environment: 'local',
          action: 'config.set',
          target: 'local',
          outcome: 'applied',
          requestId: `r${i}`,
          before: null,
          after: null,
        },
        i,
        prev,
      );
      out.push(e);
      prev = e.hash;
    }
    return out;
  };
  const rows = (entries: AuditEntry[]) => entries.map((e) => ({ seq: e.seq, entry: JSON.stringify(e), hash: e.hash }));
  const bounds = (entries: AuditEntry[]) => ({
    anchor: { seq: 0, hash: GENESIS_HASH },
    head: { seq: entries.length, hash: entries.at(-1)?.hash ?? GENESIS_HASH },
  });

  it('names the entry at which any single deletion, edit or swap breaks the chain', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 3, max: 30 })
          .chain((n) =>
            fc.tuple(fc.constant(n), fc.constantFrom('delete', 'edit', 'swap'), fc.integer({ min: 1, max: n - 1 })),
          ),
        ([n, kind, i]) => {
          const entries = chain(n);
          const stored = rows(entries);
          let expected: { seq: number; problem: string };
          if (kind === 'delete') {
            stored.splice(i - 1, 1);
            expected = { seq: i, problem: 'removed' };
          } else if (kind === 'edit') {
            const e = JSON.parse(stored[i - 1]?.entry ?? '{}') as AuditEntry;
            stored[i - 1] = { seq: i, entry: JSON.stringify({ ...e, actor: 'mallory' }), hash: e.hash };
            expected = { seq: i, problem: 'edited' };
          } else {
            // swap the contents of two neighbouring rows, keeping the sequence column
            const a = stored[i - 1];
            const b = stored[i];
            if (!a || !b) throw new Error('unreachable');
            stored[i - 1] = { ...b, seq: a.seq };
            stored[i] = { ...a, seq: b.seq };
            expected = { seq: i, problem: 'reordered' };
          }
          const v = verifyChain(stored, bounds(entries));
          expect(v.ok).toBe(false);
          expect(v.problems).toContainEqual(expect.objectContaining(expected));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('detects a truncated tail against the recorded head', () => {
    const entries = chain(5);
    const v = verifyChain(rows(entries).slice(0, 3), bounds(entries));
    expect(v.problems).toEqual([expect.objectContaining({ seq: 4, problem: 'removed' })]);
  });
});

describe('sqlite specifics', () => {
  it('group commit: concurrent good, invalid and conflicting writes in one transaction each get their own outcome', async () => {
    const file = join(tempDir(), 's.db');
    const store = await openSqliteStore({ file });
    const base = await store.putEnvironment(env('base'), opts());
    const calls = [
      ...Array.from({ length: 10 }, (_, i) => store.putEnvironment(env(`good-${i}`), opts())),
      store.putEnvironment({ name: 'BAD_NAME', slots: {}, config: {} }, opts()),
      store.setConfig('base', { a: 1 }, opts({ expectedVersion: base.version ?? '' })),
      store.setConfig('base', { a: 2 }, opts({ expectedVersion: base.version ?? '' })),
    ];
    const results = await Promise.allSettled(calls);
    expect(results.slice(0, 10).every((r) => r.status === 'fulfilled')).toBe(true);
    expect(results[10]?.status === 'rejected' && isStoreError(results[10].reason, 'invalid')).toBe(true);
    expect(results.slice(11).filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    await store.close();
    // acknowledged writes are durable: a fresh open sees every one of them and a clean chain
    const again = await openSqliteStore({ file });
    expect((await again.listEnvironments()).map((e) => e.value.name)).toHaveLength(11);
    const audit = await again.queryAudit();
    expect(audit.filter((e) => e.outcome === 'refused').map((e) => e.code)).toEqual(
      expect.arrayContaining(['invalid', 'version-conflict']),
    );
    expect((await again.verifyAudit()).ok).toBe(true);
    await again.close();
  });

  it('a write that throws leaves no trace, alone in its transaction or grouped with others', async () => {
    const store = await openSqliteStore({ file: join(tempDir(), 's.db') });
    const failing = () =>
      store.unsafeWrite(async (tx) => {
        await tx.run("UPDATE meta SET v = 'broken' WHERE k = 'state'");
        await tx.run("INSERT INTO objects VALUES ('environment', 'ghost', '', '{}', 'x', 'v0')");
        throw new Error('boom');
      });
    await expect(failing()).rejects.toThrow('boom');
    const grouped = await Promise.allSettled([store.putEnvironment(env('a'), opts()), failing()]);
    expect(grouped.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    expect((await store.listEnvironments()).map((e) => e.value.name)).toEqual(['a']);
    expect(await store.verifyIntegrity()).toMatchObject({ ok: true, audit: { ok: true, entries: 1 } });
    await store.close();
  });

  it('a group runs without savepoints; a request that undoes written work regroups it, and every request applies once', async () => {
    const store = await openSqliteStore({ file: join(tempDir(), 's.db') });
    // undoRequest after a write: inside a group without savepoints the group starts over with a savepoint each
    const undoing = () =>
      store.unsafeWrite(async (tx) => {
        await tx.run("INSERT INTO objects VALUES ('environment', 'undone', '', '{}', 'x', 'v0')");
        tx.undoRequest?.();
        await tx.run("UPDATE meta SET v = v WHERE k = 'state'");
        return 'kept';
      });
    const [a, undone, b, conflict] = await Promise.allSettled([
      store.putEnvironment(env('a'), opts()),
      undoing(),
      store.putEnvironment(env('b'), opts()),
      store.setConfig('a', { n: 1 }, opts({ expectedVersion: 'v999-stale' })),
    ]);
    expect([a.status, undone.status, b.status]).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    expect(undone.status === 'fulfilled' && undone.value).toBe('kept');
    expect(conflict.status === 'rejected' && isStoreError(conflict.reason, 'version-conflict')).toBe(true);
    expect((await store.listEnvironments()).map((e) => e.value.name)).toEqual(['a', 'b']);
    // each request applied exactly once: two creations and one refusal in the chain, nothing twice
    const audit = await store.queryAudit();
    expect(audit.map((e) => [e.action, e.outcome])).toEqual([
      ['environment.put', 'applied'],
      ['environment.put', 'applied'],
      ['config.set', 'refused'],
    ]);
    expect(await store.verifyIntegrity()).toMatchObject({ ok: true, audit: { ok: true, entries: 3 } });
    await store.close();
  });

  it('property: a group of good, refused, failing and undoing requests gives each its own outcome, applied once', async () => {
    type Op = 'good' | 'conflict' | 'invalid' | 'throws' | 'undoes';
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom<Op>('good', 'conflict', 'invalid', 'throws', 'undoes'), {
          minLength: 2,
          maxLength: 12,
        }),
        async (ops) => {
          const store = await openSqliteStore({ file: join(tempDir(), 'p.db') });
          await store.unsafeWrite((tx) => tx.run('CREATE TABLE scratch (id TEXT PRIMARY KEY)'));
          const base = await store.putEnvironment(env('base'), opts());
          const scratch = (tx: { run: (sql: string, p?: unknown[]) => Promise<number> }, id: string) =>
            tx.run('INSERT INTO scratch VALUES (?)', [id]);
          // issued in one tick: one group commit
          const calls = ops.map((op, i) => {
            switch (op) {
              case 'good':
                return store.putEnvironment(env(`good-${i}`), opts());
              case 'conflict':
                return store.setConfig('base', { i }, opts({ expectedVersion: `${base.version}-stale` }));
              case 'invalid':
                return store.putEnvironment({ name: `BAD_${i}`, slots: {}, config: {} }, opts());
              case 'throws':
                return store.unsafeWrite(async (tx) => {
                  await scratch(tx, `thrown-${i}`);
                  throw new Error(`boom ${i}`);
                });
              default: // 'undoes'
                return store.unsafeWrite(async (tx) => {
                  await scratch(tx, `undone-${i}`);
                  tx.undoRequest?.();
                  await scratch(tx, `kept-${i}`);
                  return i;
                });
            }
          });
          const results = await Promise.allSettled(calls);
          ops.forEach((op, i) => {
            const r = results[i];
            if (op === 'good' || op === 'undoes') expect(r?.status).toBe('fulfilled');
            else if (op === 'throws') expect(r?.status === 'rejected' && String(r.reason)).toContain(`boom ${i}`);
            else {
              const code = op === 'conflict' ? 'version-conflict' : 'invalid';
              expect(r?.status === 'rejected' && isStoreError(r.reason, code)).toBe(true);
            }
          });
          const names = (await store.listEnvironments()).map((e) => e.value.name).filter((n) => n !== 'base');
          const expected = ops.flatMap((op, i) => (op === 'good' ? [`good-${i}`] : []));
          expect(names.sort()).toEqual(expected.sort());
          const rows = await store.unsafeWrite(async (tx) => (await tx.all('SELECT id FROM scratch')).map((r) => r.id));
          expect([...rows].sort()).toEqual(ops.flatMap((op, i) => (op === 'undoes' ? [`kept-${i}`] : [])).sort());
          // the audit chain holds each applied or refused request exactly once (plus the base environment)
          const audit = await store.queryAudit();
          const requests = audit.map((e) => e.requestId);
          expect(new Set(requests).size).toBe(requests.length);
          const applied = audit.filter((e) => e.outcome === 'applied').length;
          const refused = audit.filter((e) => e.outcome === 'refused').length;
          expect(applied).toBe(1 + expected.length);
          expect(refused).toBe(ops.filter((op) => op === 'conflict' || op === 'invalid').length);
          expect(await store.verifyIntegrity()).toMatchObject({ ok: true, audit: { ok: true } });
          await store.close();
        },
      ),
      { numRuns: 25 },
    );
  });

  it('background commit sync: no write is acknowledged, and no read shows it, before the WAL sync after its COMMIT returns', async () => {
    const file = join(tempDir(), 'bg.db');
    const db = new Database(file);
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE t (n INTEGER)');
    const syncs: { fd: number; done: (err: NodeJS.ErrnoException | null) => void }[] = [];
    const driver = new SqliteDriver(db, {
      commitSync: 'background',
      walSync: (fd, done) => syncs.push({ fd, done }),
    });
    expect(db.pragma('synchronous', { simple: true })).toBe(1); // NORMAL: COMMIT does not sync, the driver does
    const settled: string[] = [];
    const turns = async (n: number) => {
      for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
    };
    const first = driver.write(async (tx) => tx.run('INSERT INTO t VALUES (1)')).then(() => settled.push('first'));
    await turns(2);
    expect(syncs).toHaveLength(1); // committed, syncing: not yet acknowledged
    expect(settled).toEqual([]);
    // a read waits for the sync of what was committed before it; the next group gathers behind the slow sync for
    // at most a millisecond, then commits and syncs beside it
    const read = driver
      .read(async (q) => (await q.all('SELECT n FROM t')).map((r) => r.n))
      .then((rows) => {
        settled.push('read');
        return rows;
      });
    const second = driver.write(async (tx) => tx.run('INSERT INTO t VALUES (2)')).then(() => settled.push('second'));
    for (let i = 0; i < 400 && syncs.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
    expect(syncs).toHaveLength(2);
    expect(settled).toEqual([]);
    // the later sync returning covers both groups (it started after both commits); the read then sees both rows
    syncs[1]?.done(null);
    await Promise.all([first, second]);
    expect(await read).toEqual([1, 2]);
    expect(settled).toEqual(['first', 'second', 'read']);
    syncs[0]?.done(null); // the slow one returning late changes nothing
    await turns(2);
    // a failed sync: the waiting writes fail as unavailable, nothing unsynced is shown, no further write is taken
    const third = driver.write(async (tx) => tx.run('INSERT INTO t VALUES (3)'));
    await turns(2);
    const eio = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    syncs[2]?.done(eio);
    await expect(third).rejects.toMatchObject({ code: 'unavailable', message: expect.stringContaining('restart it') });
    await expect(driver.write(async () => 1)).rejects.toMatchObject({ code: 'unavailable' });
    await expect(driver.read(async () => 1)).rejects.toMatchObject({ code: 'unavailable' });
    await driver.close();
  });

  it('background commit sync: a store on it passes group commit and keeps every acknowledged write across a reopen', async () => {
    const file = join(tempDir(), 'bg-store.db');
    const store = await openSqliteStore({ file, commitSync: 'background' });
    const results = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) => store.putEnvironment(env(`bg-${i}`, { i }), opts())),
    );
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    let version = (await store.getConfig('bg-0')).version;
    for (let n = 1; n <= 20; n++)
      version = (await store.setConfig('bg-0', { n }, opts({ expectedVersion: version }))).version ?? '';
    await store.close();
    const again = await openSqliteStore({ file });
    expect(await again.listEnvironments()).toHaveLength(40);
    expect((await again.getConfig('bg-0')).value).toEqual({ n: 20 });
    expect(await again.verifyIntegrity()).toMatchObject({ ok: true, audit: { ok: true, entries: 60 } });
    await again.close();
  });

  it('a sequential writer commits back to back without starving the event loop or concurrent readers', async () => {
    const store = await openSqliteStore({ file: join(tempDir(), 's.db') });
    let version = (await store.putEnvironment(env('seq', { n: 0 }), opts())).version ?? '';
    let turned = false;
    setImmediate(() => {
      turned = true;
    });
    const reads: Promise<unknown>[] = [];
    for (let n = 1; n <= 100; n++) {
      if (n % 10 === 0) reads.push(store.getConfig('seq'));
      version = (await store.setConfig('seq', { n }, opts({ expectedVersion: version }))).version ?? '';
    }
    expect(turned).toBe(true);
    const seen = (await Promise.all(reads)) as { value: { n: number } }[];
    expect(seen.every((r) => r.value.n >= 9 && r.value.n <= 100)).toBe(true);
    expect((await store.getConfig('seq')).value).toEqual({ n: 100 });
    expect((await store.verifyAudit()).ok).toBe(true);
    await store.close();
  });

  it('bounds the idempotency ledger by count automatically and records each trim', async () => {
    const store = await openSqliteStore({ file: join(tempDir(), 's.db'), ledger: { maxEntries: 3, trimEvery: 1 } });
    const first = opts();
    await store.putEnvironment(env('e0'), first);
    for (let i = 1; i < 6; i++) await store.putEnvironment(env(`e${i}`), opts());
    const trims = await store.queryAudit({ action: 'store.retention' });
    expect(trims.length).toBeGreaterThan(0);
    expect(trims.every((t) => t.target === 'idempotency-ledger')).toBe(true);
    // the oldest key was forgotten: its retry runs again and meets the existing environment
    await expect(store.putEnvironment(env('e0'), first)).rejects.toMatchObject({ code: 'precondition-required' });
    expect((await store.verifyAudit()).ok).toBe(true);
    await store.close();
  });

  it('bounds the idempotency ledger by age automatically, rows written behind its back included', async () => {
    const store = await openSqliteStore({
      file: join(tempDir(), 's.db'),
      ledger: { maxAgeSeconds: 0.25, trimEvery: 1 },
    });
    const oldRows = async (): Promise<number> =>
      store.unsafeWrite(async (tx) => Number((await tx.get("SELECT COUNT(*) AS n FROM ledger WHERE key = 'old'"))?.n));
    const first = opts();
    let v = (await store.putEnvironment(env('e0', { n: 0 }), first)).version ?? '';
    v = (await store.setConfig('e0', { n: 1 }, opts({ expectedVersion: v }))).version ?? '';
    // a row the verbs did not write (restore, repair, raw SQL) is trimmed by the next automatic check
    await store.unsafeWrite(async (tx) => {
      await tx.run(
        "INSERT INTO ledger (actor, key, fingerprint, request_id, result, created_ms, gen) VALUES ('x', 'old', 'f', 'r', '{}', 0, 0)",
      );
    });
    expect(await oldRows()).toBe(1);
    v = (await store.setConfig('e0', { n: 2 }, opts({ expectedVersion: v }))).version ?? '';
    expect(await oldRows()).toBe(0);
    // the first key ages out: its retry runs again and meets the existing environment
    await new Promise((r) => setTimeout(r, 400));
    await store.setConfig('e0', { n: 3 }, opts({ expectedVersion: v }));
    await expect(store.putEnvironment(env('e0', { n: 0 }), first)).rejects.toMatchObject({
      code: 'precondition-required',
    });
    expect((await store.verifyAudit()).ok).toBe(true);
    await store.close();
  });

  it('audit retention by age trims every entry older than the bound and keeps the chain verifiable', async () => {
    const store = await openSqliteStore({ file: join(tempDir(), 's.db') });
    let v = (await store.putEnvironment(env('local', { n: 0 }), opts())).version ?? '';
    for (let i = 1; i <= 4; i++)
      v = (await store.setConfig('local', { n: i }, opts({ expectedVersion: v }))).version ?? '';
    await new Promise((r) => setTimeout(r, 20));
    const report = await store.applyRetention({ audit: { keepDays: 0 } }, { actor: 'admin' });
    expect(report.auditTrimmed).toMatchObject({ fromSeq: 1, toSeq: 5 });
    expect((await store.queryAudit()).map((e) => [e.seq, e.action])).toEqual([[6, 'store.retention']]);
    await store.setConfig('local', { n: 5 }, opts({ expectedVersion: v }));
    expect(await store.verifyAudit()).toMatchObject({ ok: true, entries: 2 });
    await store.close();
  });

  it('runs versioned migrations once and refuses a database from a newer build', async () => {
    const file = join(tempDir(), 's.db');
    const store = await openSqliteStore({ file });
    await store.close();
    const db = new Database(file);
    expect(db.prepare('SELECT COUNT(*) AS n FROM kysely_migration').get()).toEqual({ n: SCHEMA_VERSION });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.prepare("INSERT INTO kysely_migration (name, timestamp) VALUES ('9999-from-the-future', 'x')").run();
    db.close();
    await expect(openSqliteStore({ file })).rejects.toMatchObject({
      code: 'unavailable',
      message: expect.stringContaining('newer'),
    });
  });

  it('upgrades a schema-1 database: audit seq becomes the rowid, entries and chain intact; schema-1 backups restore', async () => {
    const dir = tempDir();
    const file = join(dir, 's.db');
    const first = MIGRATIONS['0001-objects-audit-ledger'];
    if (!first) throw new Error('no first migration');
    const db = new Database(file);
    const kysely = new Kysely<unknown>({ dialect: new SqliteDialect({ database: db }) });
    const only1 = new Migrator({
      db: kysely,
      provider: { getMigrations: async () => ({ '0001-objects-audit-ledger': first }) },
    });
    expect((await only1.migrateToLatest()).error).toBeUndefined();
    await kysely.destroy();
    const v1 = await openSqliteStoreAtVersion1(file);
    await v1.putEnvironment(env('old', { n: 1 }), opts());
    const { version } = await v1.getEnvironment('old');
    await v1.setConfig('old', { n: 2 }, opts({ expectedVersion: version }));
    const backup = await v1.backup(join(dir, 'v1.json'));
    expect(backup.schemaVersion).toBe(1);
    await v1.close();

    const store = await openSqliteStore({ file });
    expect(await store.verifyIntegrity()).toMatchObject({ ok: true, audit: { ok: true, entries: 2 } });
    const cur = await store.getEnvironment('old');
    await store.setConfig('old', { n: 3 }, opts({ expectedVersion: cur.version }));
    expect((await store.queryAudit()).map((e) => e.seq)).toEqual([1, 2, 3]);
    const report = await store.restore(backup.file, { actor: 'admin', force: true });
    expect(report.forced).toBe(true);
    expect((await store.getConfig('old')).value).toEqual({ n: 2 });
    expect((await store.verifyIntegrity()).ok).toBe(true);
    await store.close();
    const check = new Database(file);
    const ddl = check.prepare("SELECT sql FROM sqlite_master WHERE name = 'audit'").get() as { sql: string };
    expect(ddl.sql.toLowerCase()).toContain('"seq" integer primary key');
    expect(
      check.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE tbl_name = 'audit' AND type = 'index'").get(),
    ).toEqual({ n: 0 });
    check.close();
  });
});

/** A store over a database left at schema 1 (the build before migration 0002). */
async function openSqliteStoreAtVersion1(file: string): Promise<SqlStore> {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  return SqlStore.open(new SqliteDriver(db), { label: file, schemaVersion: 1 });
}

describe('postgres specifics', () => {
  it('two store processes on one database: concurrent CAS writers never lose an update and the chain never forks', async () => {
    const schema = `greentic_test_${randomBytes(6).toString('hex')}`;
    const a = await openPostgresStore({ url: POSTGRES_URL, schema, maxConnections: 4 });
    const b = await openPostgresStore({ url: POSTGRES_URL, schema, maxConnections: 4 });
    try {
      await a.putEnvironment(env('shared', { n: 0 }), opts());
      const writer = async (store: typeof a) => {
        for (let attempt = 0; attempt < 200; attempt++) {
          const cur = await store.getConfig('shared');
          try {
            await store.setConfig('shared', { n: Number(cur.value.n) + 1 }, opts({ expectedVersion: cur.version }));
            return;
          } catch (e) {
            if (!isStoreError(e, 'version-conflict')) throw e;
          }
        }
        throw new Error('gave up');
      };
      await Promise.all(Array.from({ length: 16 }, (_, i) => writer(i % 2 === 0 ? a : b)));
      expect((await b.getConfig('shared')).value.n).toBe(16);
      expect(await a.verifyAudit()).toMatchObject({ ok: true, problems: [] });
    } finally {
      await a.close();
      await b.close();
      await dropSchema(schema);
    }
  });

  it('opens (and migrates) a store while other schemas of the database come and go: it looks at its own only', async () => {
    // Another application, or another store's tests, creating and dropping schemas in the same database. kysely's
    // own introspector reads every table of every schema and failed when one was dropped under it (seen in CI:
    // 42P01 naming another store's test schema).
    const schema = `greentic_test_${randomBytes(6).toString('hex')}`;
    const churner = new pg.Client({ connectionString: POSTGRES_URL });
    await churner.connect();
    let churning = true;
    const churn = (async () => {
      while (churning) {
        const other = `greentic_churn_${randomBytes(6).toString('hex')}`;
        await churner.query(
          `CREATE SCHEMA "${other}"; CREATE TABLE "${other}".a (id serial primary key, v text); CREATE TABLE "${other}".b (id serial primary key)`,
        );
        await churner.query(`DROP SCHEMA "${other}" CASCADE`);
      }
    })();
    try {
      for (let i = 0; i < 40; i++) {
        const store = await openPostgresStore({ url: POSTGRES_URL, schema, maxConnections: 1 });
        await store.close();
      }
    } finally {
      churning = false;
      await churn;
      await churner.end();
      await dropSchema(schema);
    }
  });

  it('restores a SQLite backup into Postgres (one logical format)', async () => {
    const dir = tempDir();
    const lite = await openSqliteStore({ file: join(dir, 's.db') });
    await lite.putEnvironment(env('moved', { a: 1 }), opts());
    const manifest = await lite.backup(join(dir, 'b.json'));
    const version = (await lite.getEnvironment('moved')).version;
    await lite.close();
    const schema = `greentic_test_${randomBytes(6).toString('hex')}`;
    const pgStore = await openPostgresStore({ url: POSTGRES_URL, schema, maxConnections: 2 });
    try {
      const report = await pgStore.restore(manifest.file, { actor: 'admin' });
      expect(report.forced).toBe(false);
      expect(await pgStore.getEnvironment('moved')).toEqual({ value: env('moved', { a: 1 }), version });
      expect((await pgStore.verifyIntegrity()).ok).toBe(true);
    } finally {
      await pgStore.close();
      await dropSchema(schema);
    }
  });
});
