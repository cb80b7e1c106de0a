// Durable CAS writes per second through the store (audit entry + idempotency ledger row in the transaction),
// next to the raw better-sqlite3 ceiling of the same transaction (same schema, statements, pragmas and row sizes,
// one COMMIT with fsync per write, no validation or logic), measured in the same run. Run: `pnpm --filter @greentic/store-sql bench`.
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '@greentic/store-sql';
import Database from 'better-sqlite3';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const dir = mkdtempSync(join(tmpdir(), 'greentic-store-bench-'));
const sha = (s) => `sha256:${createHash('sha256').update(s).digest('hex')}`;

async function timed(label, fn) {
  const deadline = performance.now() + SECONDS * 1000;
  let n = 0;
  const t0 = performance.now();
  while (performance.now() < deadline) n += await fn();
  const rate = n / ((performance.now() - t0) / 1000);
  console.log(`${label.padEnd(58)} ${rate.toFixed(0).padStart(8)} writes/s`);
  return rate;
}

/**
 * The raw ceiling: the store's transaction written by hand with prepared statements, on a file whose schema the
 * store's own migrations created (same tables, same indexes), with the same pragmas and rows of the same shape and
 * size (the audit entry and ledger result carry the same fields), so the only difference left is the store's code.
 */
async function rawCeiling(file) {
  await (await openSqliteStore({ file })).close();
  const db = new Database(file);
  db.pragma('locking_mode = EXCLUSIVE');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  const text0 = JSON.stringify({ config: { counter: 0 }, name: 'bench', slots: {} });
  db.prepare("INSERT INTO objects VALUES ('environment', 'bench', '', ?, ?, 'v0')").run(text0, sha(text0));
  const s = {
    state: db.prepare("SELECT v FROM meta WHERE k = 'state'"),
    ledger: db.prepare('SELECT fingerprint, request_id, result FROM ledger WHERE actor = ? AND key = ?'),
    obj: db.prepare('SELECT value, digest, version FROM objects WHERE kind = ? AND key = ?'),
    put: db.prepare(
      'INSERT INTO objects (kind, key, parent, value, digest, version) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value, digest = excluded.digest, version = excluded.version',
    ),
    audit: db.prepare(
      'INSERT INTO audit (seq, at, actor, environment, action, outcome, entry, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    led: db.prepare(
      'INSERT INTO ledger (actor, key, fingerprint, request_id, result, created_ms, gen) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    save: db.prepare("UPDATE meta SET v = ? WHERE k = 'state'"),
  };
  const write = () => {
    db.exec('BEGIN IMMEDIATE');
    const st = JSON.parse(s.state.get().v);
    const key = randomUUID();
    const requestId = `req-${randomUUID()}`;
    s.ledger.get('bench', key);
    const cur = s.obj.get('environment', 'bench');
    const value = JSON.parse(cur.value);
    const config = { counter: value.config.counter + 1 };
    const text = JSON.stringify({ ...value, config });
    const digest = sha(text);
    const gen = st.generation + 1;
    const version = `v${gen}-${digest.slice(7, 19)}`;
    s.put.run('environment', 'bench', '', text, digest, version);
    const at = new Date().toISOString();
    const entry = {
      at,
      actor: 'bench',
      environment: 'bench',
      action: 'config.set',
      target: 'bench',
      outcome: 'applied',
      requestId,
      before: cur.digest,
      after: digest,
      seq: st.headSeq + 1,
      prevHash: st.headHash,
    };
    const hash = sha(JSON.stringify(entry));
    s.audit.run(entry.seq, at, 'bench', 'bench', 'config.set', 'applied', JSON.stringify({ ...entry, hash }), hash);
    const result = JSON.stringify({ value: config, version, replayed: false, requestId });
    s.led.run('bench', key, sha(key), requestId, result, Date.now(), gen);
    s.save.run(JSON.stringify({ ...st, generation: gen, headSeq: entry.seq, headHash: hash }));
    db.exec('COMMIT');
  };
  return { write, close: () => db.close() };
}

async function main() {
  const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
  console.log(
    `[store-sql bench] ${rounds} interleaved rounds of ${SECONDS}s per figure (the disk is shared: medians), files in ${dir}`,
  );
  const raw = await rawCeiling(join(dir, 'raw.db'));
  const store = await openSqliteStore({ file: join(dir, 'store.db') });
  await store.putEnvironment(
    { name: 'bench', slots: {}, config: { counter: 0 } },
    { actor: 'bench', idempotencyKey: randomUUID() },
  );
  let version = (await store.getConfig('bench')).version;
  let counter = 0;
  const writers = 32;
  for (let i = 0; i < writers; i++) {
    await store.putEnvironment(
      { name: `w${i}`, slots: {}, config: { counter: 0 } },
      { actor: 'bench', idempotencyKey: randomUUID() },
    );
  }
  const tags = await Promise.all(
    Array.from({ length: writers }, (_, i) => store.getConfig(`w${i}`).then((c) => c.version)),
  );
  const rawRates = [];
  const seqRates = [];
  const conRates = [];
  for (let round = 1; round <= rounds; round++) {
    // Paired: one raw write, then one store write, alternately, timing each side. The shared disk's fsync
    // latency drifts by 10x within seconds; pairing exposes both sides to the same drift.
    let rawMs = 0;
    let storeMs = 0;
    let pairs = 0;
    const deadline = performance.now() + SECONDS * 1000;
    while (performance.now() < deadline) {
      const t0 = performance.now();
      raw.write();
      const t1 = performance.now();
      const r = await store.setConfig(
        'bench',
        { counter: ++counter },
        { actor: 'bench', expectedVersion: version, idempotencyKey: randomUUID() },
      );
      const t2 = performance.now();
      version = r.version;
      rawMs += t1 - t0;
      storeMs += t2 - t1;
      pairs++;
    }
    rawRates.push((pairs * 1000) / rawMs);
    seqRates.push((pairs * 1000) / storeMs);
    console.log(`round ${round}`);
    console.log(
      `  ${'raw better-sqlite3, same transaction, 1 fsync per write'.padEnd(56)} ${rawRates.at(-1).toFixed(0).padStart(8)} writes/s`,
    );
    console.log(
      `  ${'store CAS writes, one writer (paired with the raw writes)'.padEnd(56)} ${seqRates.at(-1).toFixed(0).padStart(8)} writes/s`,
    );
    conRates.push(
      await timed(`  store CAS writes, ${writers} concurrent writers (group commit)`, async () => {
        await Promise.all(
          tags.map(async (tag, i) => {
            const r = await store.setConfig(
              `w${i}`,
              { counter: Date.now() },
              { actor: 'bench', expectedVersion: tag, idempotencyKey: randomUUID() },
            );
            tags[i] = r.version;
          }),
        );
        return writers;
      }),
    );
  }
  raw.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const ratios = seqRates.map((s, i) => s / rawRates[i]);
  console.log(`median raw ceiling:                 ${median(rawRates).toFixed(0)} writes/s`);
  console.log(`median store, one writer:           ${median(seqRates).toFixed(0)} writes/s`);
  console.log(`median store, ${writers} writers:           ${median(conRates).toFixed(0)} writes/s`);
  console.log(
    `ratio one writer / raw ceiling:     ${median(ratios).toFixed(2)} (median of per-round ratios; goal >= 0.8)`,
  );
  console.log(`ratio ${writers} writers / raw ceiling:     ${(median(conRates) / median(rawRates)).toFixed(2)}`);
}

await main();
