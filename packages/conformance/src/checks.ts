import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  BASIS_POINTS_TOTAL,
  formatErrors,
  type RevisionState,
  type RuntimeConfig,
  validate,
} from '@greentic/deploy-spec';
import {
  type DesiredState,
  detectDrift,
  type LiveRevision,
  type LiveStatus,
  type RevisionTarget,
} from '@greentic/env-pack';
import type { CheckId, DeployerFixtures, ResolvedTimeouts } from './fixtures';

/** A check found the deployer misbehaving. The message says what was expected and what happened. */
export class ConformanceFailure extends Error {
  override readonly name = 'ConformanceFailure';
}

function expect(cond: unknown, message: string): asserts cond {
  if (!cond) throw new ConformanceFailure(message);
}

/** One named check of the suite. */
export interface Check {
  readonly id: CheckId;
  /** The sentence shown as the test title. */
  readonly title: string;
  run(f: DeployerFixtures, t: ResolvedTimeouts): Promise<void>;
}

/** The same target in another store state and with another weight. */
export function at(target: RevisionTarget, state: RevisionState, weight = 0): RevisionTarget {
  return { ...target, revision: { ...target.revision, state }, weight };
}

function desired(f: DeployerFixtures, targets: readonly RevisionTarget[]): DesiredState {
  return { environment: f.ctx.environment, targets };
}

function find(live: LiveStatus, target: RevisionTarget): LiveRevision | undefined {
  return live.revisions.find((r) => r.deployment === target.deployment.name && r.revision === target.revision.id);
}

/** What a user would notice about one deployment's revisions: which exist, their phase, endpoint and digest. */
function fingerprint(live: LiveStatus, deployment: string): string {
  return live.revisions
    .filter((r) => r.deployment === deployment)
    .map((r) => `${r.revision}:${r.phase}:${r.endpoint ?? '-'}:${r.bundleDigest ?? '-'}`)
    .sort()
    .join(' ');
}

const name = (t: RevisionTarget) => `revision ${t.revision.id} of ${t.deployment.name}`;

function isTypedError(e: unknown): e is Error & { code: string } {
  return e instanceof Error && typeof (e as { code?: unknown }).code === 'string';
}

/** Races `p` against a deadline; `undefined` result means it did not settle in time (a hang). */
async function settle<T>(
  p: Promise<T>,
  ms: number,
): Promise<{ ok: true; value: T } | { ok: false; error: unknown } | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([
      p.then(
        (value) => ({ ok: true as const, value }),
        (error: unknown) => ({ ok: false as const, error }),
      ),
      deadline,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function expectRefused(p: Promise<unknown>, what: string): Promise<void> {
  const r = await settle(p, 30_000);
  expect(r, `${what} did not settle within 30000 ms (expected a typed 'refused' error)`);
  expect(!r.ok, `${what} succeeded; it must be refused while the revision holds traffic`);
  expect(
    isTypedError(r.error) && r.error.code === 'refused',
    `${what} failed, but not with a typed 'refused' error: ${String(r.error)}`,
  );
}

/** Poll status until `ok` holds for the entry of `target` (or the budget ends); returns the last status. */
async function pollStatus(
  f: DeployerFixtures,
  target: RevisionTarget,
  ok: (r: LiveRevision | undefined) => boolean,
  ms: number,
): Promise<{ live: LiveStatus; held: boolean }> {
  const deadline = Date.now() + ms;
  for (;;) {
    const live = await f.pack.status(f.ctx, { deployment: target.deployment.name });
    if (ok(find(live, target))) return { live, held: true };
    if (Date.now() >= deadline) return { live, held: false };
    await sleep(100);
  }
}

/** Targets a check created; archived (weight 0) when the check ends, whatever happened. */
class Scope {
  private readonly targets: RevisionTarget[] = [];
  constructor(private readonly f: DeployerFixtures) {}
  track(t: RevisionTarget): RevisionTarget {
    this.targets.push(t);
    return t;
  }
  async close(): Promise<void> {
    for (const t of this.targets.reverse()) {
      await settle(this.f.pack.archive(this.f.ctx, at(t, 'archived', 0)), 30_000);
    }
  }
}

async function withScope(f: DeployerFixtures, body: (s: Scope) => Promise<void>): Promise<void> {
  const s = new Scope(f);
  try {
    await body(s);
  } finally {
    await s.close();
  }
}

/**
 * The default in-flight request: `GET <endpoint>/slow?ms=<ms>` over a fresh connection. `sent` resolves once the
 * request is written to a connected socket, so the check knows the worker has it before draining.
 */
function defaultInFlight(
  endpoint: string,
  ms: number,
): { sent: Promise<void>; answer: Promise<{ status: number; body: string }> } {
  let markSent: () => void = () => {};
  const sent = new Promise<void>((resolve) => {
    markSent = resolve;
  });
  const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
    const request = endpoint.startsWith('https:') ? httpsRequest : httpRequest;
    const req = request(`${endpoint}/slow?ms=${ms}`, { agent: false, timeout: ms + 30_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${ms + 30_000} ms`)));
    req.on('error', (e) => {
      markSent();
      reject(e);
    });
    req.end(() => markSent());
  });
  return { sent, answer };
}

/** Every rule a runtime config must keep, checked against what the store wants and what runs. */
function expectRoutes(cfg: RuntimeConfig, want: DesiredState, live: LiveStatus, label: string): void {
  const v = validate('runtime-config', cfg);
  expect(v.ok, `${label}: runtimeConfig is not a valid runtime config:\n${v.ok ? '' : formatErrors(v.errors)}`);
  for (const d of cfg.deployments) {
    let sum = 0;
    for (const r of d.revisions) {
      const t = want.targets.find((x) => x.deployment.name === d.name && x.revision.id === r.id);
      expect(t, `${label}: deployment ${d.name} routes to revision ${r.id}, which the store does not list`);
      const state = t.revision.state;
      expect(
        state === 'ready' || state === 'draining',
        `${label}: revision ${r.id} of ${d.name} is ${state} in the store but is routed (only ready and draining revisions may appear)`,
      );
      expect(
        r.state === state,
        `${label}: revision ${r.id} of ${d.name} is routed as ${r.state} but the store says ${state}`,
      );
      if (r.weight > 0) {
        const l = find(live, t);
        expect(state === 'ready', `${label}: revision ${r.id} of ${d.name} is ${state} but gets ${r.weight} bps`);
        expect(
          l?.phase === 'running',
          `${label}: revision ${r.id} of ${d.name} gets ${r.weight} bps but live it is ${l?.phase ?? 'absent'}`,
        );
      }
      sum += r.weight;
    }
    const anyWeighted = want.targets.some(
      (t) =>
        t.deployment.name === d.name &&
        t.revision.state === 'ready' &&
        t.weight > 0 &&
        find(live, t)?.phase === 'running',
    );
    if (anyWeighted) {
      expect(sum === BASIS_POINTS_TOTAL, `${label}: weights of ${d.name} sum to ${sum} bps, not ${BASIS_POINTS_TOTAL}`);
    } else {
      expect(sum === 0, `${label}: ${d.name} has no live ready revision with traffic, yet routes ${sum} bps`);
    }
  }
}

const credentialsVerify: Check = {
  id: 'credentials-verify',
  title: 'credentials verify reports both missing and extra permissions',
  async run(f) {
    const { pack, ctx } = f;
    const required = pack.credentials.requirements(ctx);
    expect(required.length > 0, 'credentials.requirements returned no permissions');
    const leaks = (result: unknown, value: string | undefined) =>
      value !== undefined && value.length >= 8 && JSON.stringify(result).includes(value);

    const missing = await pack.credentials.verify(ctx, f.credentials.missing);
    expect(!missing.ok, 'verify accepted a credential that lacks a required permission');
    expect(missing.missing.length > 0, 'verify did not list the missing permission of an under-privileged credential');
    expect(!leaks(missing, f.credentials.missing.value), 'verify echoed the credential value in its result');

    const extra = await pack.credentials.verify(ctx, f.credentials.extra);
    expect(!extra.ok, 'verify accepted a credential that holds more than the requirements');
    expect(extra.extra.length > 0, 'verify did not list the extra permission of an over-privileged credential');
    expect(!leaks(extra, f.credentials.extra.value), 'verify echoed the credential value in its result');

    if (f.credentials.exact) {
      const exact = await pack.credentials.verify(ctx, f.credentials.exact);
      expect(
        exact.ok && exact.missing.length === 0 && exact.extra.length === 0,
        `verify refused a credential holding exactly the requirements (missing ${exact.missing.length}, extra ${exact.extra.length})`,
      );
    }
  },
};

const archiveRefused: Check = {
  id: 'archive-refused-with-weight',
  title: 'archive (and drain) is refused while a revision holds weight',
  async run(f, t) {
    await withScope(f, async (s) => {
      const r = s.track(f.healthyTarget('conf-hold', 'tenant-a', 'r1'));
      await f.pack.apply(f.ctx, at(r, 'staged'));
      await f.pack.warm(f.ctx, at(r, 'warming'), { timeoutMs: t.warmMs });
      const before = fingerprint(await f.pack.status(f.ctx, { deployment: 'conf-hold' }), 'conf-hold');
      await expectRefused(
        f.pack.archive(f.ctx, at(r, 'ready', BASIS_POINTS_TOTAL)),
        `archive of ${name(r)} at 10000 bps`,
      );
      await expectRefused(
        f.pack.drain(f.ctx, at(r, 'ready', BASIS_POINTS_TOTAL), { timeoutMs: t.drainMs }),
        `drain of ${name(r)} at 10000 bps`,
      );
      const live = await f.pack.status(f.ctx, { deployment: 'conf-hold' });
      expect(
        find(live, r)?.phase === 'running',
        `${name(r)} is ${find(live, r)?.phase ?? 'absent'} after a refused archive; a refusal must change nothing`,
      );
      expect(fingerprint(live, 'conf-hold') === before, `a refused archive changed ${name(r)}`);
    });
  },
};

const idempotent: Check = {
  id: 'idempotent-lifecycle',
  title: 'apply, warm, drain and archive twice change nothing the second time',
  async run(f, t) {
    const D = 'conf-idem';
    const snap = async () => fingerprint(await f.pack.status(f.ctx, { deployment: D }), D);
    await withScope(f, async (s) => {
      const r = s.track(f.healthyTarget(D, 'tenant-a', 'r1'));
      await f.pack.apply(f.ctx, at(r, 'staged'));
      const a1 = await snap();
      await f.pack.apply(f.ctx, at(r, 'staged'));
      expect((await snap()) === a1, `second apply changed the live state: ${a1} → ${await snap()}`);

      const w1 = await f.pack.warm(f.ctx, at(r, 'warming'), { timeoutMs: t.warmMs });
      const s1 = await snap();
      const w2 = await f.pack.warm(f.ctx, at(r, 'warming'), { timeoutMs: t.warmMs });
      const s2 = await snap();
      expect(
        w1.endpoint === w2.endpoint,
        `second warm moved ${name(r)} from ${w1.endpoint} to ${w2.endpoint} (a new worker instead of the same one)`,
      );
      expect(s1 === s2, `second warm changed the live state: ${s1} → ${s2}`);
      const live = await f.pack.status(f.ctx, { deployment: D });
      const entries = live.revisions.filter((x) => x.deployment === D && x.revision === 'r1');
      expect(entries.length === 1, `status lists ${entries.length} entries for ${name(r)} after two warms`);
      expect(entries[0]?.phase === 'running', `${name(r)} is ${entries[0]?.phase} after warm, not running`);

      await f.pack.drain(f.ctx, at(r, 'draining'), { timeoutMs: t.drainMs });
      const d1 = await snap();
      await f.pack.drain(f.ctx, at(r, 'draining'), { timeoutMs: t.drainMs });
      expect((await snap()) === d1, `second drain changed the live state: ${d1} → ${await snap()}`);
      const drained = find(await f.pack.status(f.ctx, { deployment: D }), r);
      expect(drained?.phase !== 'running', `${name(r)} still runs after drain`);

      await f.pack.archive(f.ctx, at(r, 'archived'));
      const x1 = await snap();
      await f.pack.archive(f.ctx, at(r, 'archived'));
      expect((await snap()) === x1, `second archive changed the live state: ${x1} → ${await snap()}`);
      const gone = find(await f.pack.status(f.ctx, { deployment: D }), r);
      expect(gone === undefined || gone.phase === 'absent', `${name(r)} is still ${gone?.phase} after archive`);
    });
  },
};

const routing: Check = {
  id: 'routing-ready-only',
  title: 'the runtime config gives weight only to ready revisions and always sums to 10000',
  async run(f, t) {
    const D = 'conf-route';
    await withScope(f, async (s) => {
      const a = s.track(f.healthyTarget(D, 'tenant-a', 'r1'));
      const b = s.track(f.healthyTarget(D, 'tenant-a', 'r2'));
      const staged = s.track(f.healthyTarget(D, 'tenant-a', 'r3'));
      const failed = f.failingTarget(D, 'tenant-a', 'r4');
      const leaving = s.track(f.healthyTarget(D, 'tenant-a', 'r5'));
      for (const x of [a, b, staged, leaving]) await f.pack.apply(f.ctx, at(x, 'staged'));
      for (const x of [a, b, leaving]) await f.pack.warm(f.ctx, at(x, 'warming'), { timeoutMs: t.warmMs });
      const live = await f.pack.status(f.ctx);
      let generation = 1;
      const splits: [number, number][] = [
        [10_000, 0],
        [0, 10_000],
        [5_000, 5_000],
        [1, 9_999],
        [3_333, 6_667],
      ];
      let last: RuntimeConfig | undefined;
      for (const [wa, wb] of splits) {
        const want = desired(f, [
          at(a, 'ready', wa),
          at(b, 'ready', wb),
          at(staged, 'staged'),
          at(failed, 'failed'),
          at(leaving, 'draining'),
        ]);
        last = f.pack.runtimeConfig(want, live, generation++);
        expectRoutes(last, want, live, `split ${wa}/${wb}`);
      }
      // A store that (wrongly) weights a staged revision must still not get it routed.
      const skewed = desired(f, [at(a, 'ready', 8_000), at(staged, 'staged', 2_000), at(b, 'ready', 0)]);
      expectRoutes(f.pack.runtimeConfig(skewed, live, generation++), skewed, live, 'weight on a staged revision');

      expect(last, 'no runtime config produced');
      await f.pack.publishRoutes(f.ctx, last);
      await f.pack.publishRoutes(f.ctx, last);
      const published = await f.publishedRoutes?.();
      if (f.publishedRoutes) {
        expect(published, 'publishRoutes left no runtime config for the router');
        expect(
          JSON.stringify(published.deployments) === JSON.stringify(last.deployments),
          'the published runtime config differs from the one handed to publishRoutes',
        );
      }
      // A config that breaks the rules must be refused and change nothing.
      const broken: RuntimeConfig = {
        ...last,
        generation: generation++,
        deployments: last.deployments.map((d) => ({
          ...d,
          revisions: d.revisions.map((r) => ({ ...r, weight: r.weight > 0 ? Math.floor(r.weight / 2) : r.weight })),
        })),
      };
      const r = await settle(f.pack.publishRoutes(f.ctx, broken), 30_000);
      expect(
        r && !r.ok && isTypedError(r.error),
        'publishRoutes accepted a runtime config whose weights do not sum to 10000',
      );
      if (f.publishedRoutes) {
        const after = await f.publishedRoutes();
        expect(
          JSON.stringify(after?.deployments) === JSON.stringify(published?.deployments),
          'a refused publishRoutes changed the published runtime config',
        );
      }
    });
  },
};

const drift: Check = {
  id: 'status-drift',
  title: 'status tells the truth after a worker is killed or changed behind the deployer’s back (drift)',
  async run(f, t) {
    const D = 'conf-drift';
    await withScope(f, async (s) => {
      const r = s.track(f.healthyTarget(D, 'tenant-a', 'r1'));
      await f.pack.apply(f.ctx, at(r, 'staged'));
      await f.pack.warm(f.ctx, at(r, 'warming'), { timeoutMs: t.warmMs });
      const before = find(await f.pack.status(f.ctx, { deployment: D }), r);
      expect(before?.phase === 'running', `${name(r)} is ${before?.phase ?? 'absent'} right after warm`);

      await f.tamper.killWorker(r);
      const killed = await pollStatus(f, r, (x) => x?.phase !== 'running', t.driftMs);
      expect(
        killed.held,
        `status still reports ${name(r)} running ${t.driftMs} ms after its worker was killed out of band`,
      );
      const drifts = detectDrift(desired(f, [at(r, 'ready', BASIS_POINTS_TOTAL)]), killed.live);
      expect(
        drifts.some((d) => d.revision === 'r1' && d.deployment === D),
        `no drift reported for ${name(r)} after its worker was killed`,
      );

      // Converges again: warming after the kill brings a healthy worker back.
      await f.pack.warm(f.ctx, at(r, 'warming'), { timeoutMs: t.warmMs });
      const healed = find(await f.pack.status(f.ctx, { deployment: D }), r);
      expect(healed?.phase === 'running', `warm after a kill left ${name(r)} ${healed?.phase ?? 'absent'}`);

      await f.tamper.changeWorker(r);
      const changed = await pollStatus(
        f,
        r,
        (x) => x?.phase !== 'running' || (x.bundleDigest !== undefined && x.bundleDigest !== r.bundle.digest),
        t.driftMs,
      );
      expect(
        changed.held,
        `status still reports ${name(r)} running bundle ${r.bundle.digest} after its worker was changed out of band`,
      );
      const drifts2 = detectDrift(desired(f, [at(r, 'ready', BASIS_POINTS_TOTAL)]), changed.live);
      expect(drifts2.length > 0, `no drift reported for ${name(r)} after its worker was changed`);
    });
  },
};

const drainInFlight: Check = {
  id: 'drain-in-flight',
  title: 'drain lets in-flight requests finish and gives the draining revision no new session',
  async run(f, t) {
    const D = 'conf-drain';
    const send = (endpoint: string, ms: number) =>
      f.inFlightRequest ? { sent: sleep(300), answer: f.inFlightRequest(endpoint, ms) } : defaultInFlight(endpoint, ms);
    await withScope(f, async (s) => {
      const old = s.track(f.healthyTarget(D, 'tenant-a', 'r1'));
      const next = s.track(f.healthyTarget(D, 'tenant-a', 'r2'));
      await f.pack.apply(f.ctx, at(old, 'staged'));
      await f.pack.apply(f.ctx, at(next, 'staged'));
      const wOld = await f.pack.warm(f.ctx, at(old, 'warming'), { timeoutMs: t.warmMs });
      const wNext = await f.pack.warm(f.ctx, at(next, 'warming'), { timeoutMs: t.warmMs });
      const live = await f.pack.status(f.ctx, { deployment: D });
      const routed = desired(f, [at(old, 'ready', 0), at(next, 'ready', BASIS_POINTS_TOTAL)]);
      await f.pack.publishRoutes(f.ctx, f.pack.runtimeConfig(routed, live, 1));

      const request = send(wOld.endpoint, t.inFlightMs);
      const inFlight = settle(request.answer, t.inFlightMs + t.drainMs + 30_000);
      await request.sent;
      await sleep(Math.min(100, t.inFlightMs / 4)); // let the worker read it before the drain begins
      const draining = settle(f.pack.drain(f.ctx, at(old, 'draining'), { timeoutMs: t.drainMs }), t.drainMs + 30_000);

      if (f.publishedRoutes) {
        // While the request is still in flight the router must already stop sending new sessions to r1.
        const deadline = Date.now() + Math.min(2_000, t.inFlightMs);
        let entry: { state: string; weight: number } | undefined;
        for (;;) {
          const cfg = await f.publishedRoutes();
          entry = cfg?.deployments.find((d) => d.name === D)?.revisions.find((r) => r.id === 'r1');
          if (entry?.state !== 'ready') break;
          if (Date.now() >= deadline) break;
          await sleep(50);
        }
        expect(
          !entry || (entry.state === 'draining' && entry.weight === 0),
          `while draining, the published routes still offer ${name(old)} as ${entry?.state} with ${entry?.weight} bps`,
        );
      }
      const pure = f.pack.runtimeConfig(
        desired(f, [at(old, 'draining', 0), at(next, 'ready', BASIS_POINTS_TOTAL)]),
        await f.pack.status(f.ctx, { deployment: D }),
        2,
      );
      const pureOld = pure.deployments.find((d) => d.name === D)?.revisions.find((r) => r.id === 'r1');
      expect(
        !pureOld || (pureOld.state === 'draining' && pureOld.weight === 0),
        `runtimeConfig routes the draining ${name(old)} as ${pureOld?.state} with ${pureOld?.weight} bps`,
      );

      const answer = await inFlight;
      expect(answer, `the in-flight request to ${name(old)} never finished`);
      expect(
        answer.ok,
        `the in-flight request to ${name(old)} was cut by drain: ${answer.ok ? '' : String((answer.error as Error)?.cause ?? answer.error)}`,
      );
      expect(
        answer.value.status >= 200 && answer.value.status < 300,
        `the in-flight request to ${name(old)} answered ${answer.value.status} during drain`,
      );
      const drained = await draining;
      expect(drained, `drain of ${name(old)} did not settle within ${t.drainMs + 30_000} ms`);
      expect(drained.ok, `drain of ${name(old)} failed: ${drained.ok ? '' : String(drained.error)}`);

      const after = await f.pack.status(f.ctx, { deployment: D });
      const o = find(after, old);
      expect(!o || o.phase === 'stopped' || o.phase === 'absent', `${name(old)} is ${o?.phase} after drain`);
      const n = find(after, next);
      expect(
        n?.phase === 'running' && n.endpoint === wNext.endpoint,
        `draining ${name(old)} disturbed ${name(next)} (${n?.phase} at ${n?.endpoint})`,
      );
      const late = await settle(send(wOld.endpoint, 0).answer, 10_000);
      expect(
        !late?.ok || late.value.status >= 500 || late.value.status === 404,
        `${name(old)} still accepts new requests after drain`,
      );
    });
  },
};

const failingHealth: Check = {
  id: 'failing-health',
  title: 'a failing health check ends in a typed failure within the timeout, not a hang',
  async run(f, t) {
    const D = 'conf-fail';
    await withScope(f, async (s) => {
      const r = s.track(f.failingTarget(D, 'tenant-a', 'r1'));
      await f.pack.apply(f.ctx, at(r, 'staged'));
      const started = Date.now();
      const cap = t.failMs + t.settleSlackMs;
      const out = await settle(f.pack.warm(f.ctx, at(r, 'warming'), { timeoutMs: t.failMs }), cap);
      const took = Date.now() - started;
      expect(out, `warm of an unhealthy ${name(r)} did not settle within ${cap} ms (budget ${t.failMs} ms): a hang`);
      expect(!out.ok, `warm of ${name(r)} succeeded although its health check never passes`);
      expect(
        isTypedError(out.error) && ['unhealthy', 'timeout', 'failed'].includes(out.error.code),
        `warm of ${name(r)} failed with an untyped error: ${String(out.error)}`,
      );
      expect(
        out.error.message.includes(r.revision.id),
        `the warm failure does not name the revision: "${out.error.message}"`,
      );
      expect(took <= cap, `warm of ${name(r)} took ${took} ms`);
      const l = find(await f.pack.status(f.ctx, { deployment: D }), r);
      expect(l?.phase !== 'running' && l?.phase !== 'starting', `${name(r)} is left ${l?.phase} after a failed warm`);
    });
  },
};

const isolation: Check = {
  id: 'isolation',
  title: 'two tenants and two deployments never affect each other (apply, drain, archive, failure)',
  async run(f, t) {
    await withScope(f, async (s) => {
      // The same revision id in every deployment, on purpose: identity is (deployment, revision).
      const mine = s.track(f.healthyTarget('conf-iso-a', 'tenant-a', 'r1'));
      const theirs = s.track(f.healthyTarget('conf-iso-b', 'tenant-b', 'r1'));
      const sibling = s.track(f.healthyTarget('conf-iso-c', 'tenant-a', 'r1'));
      for (const x of [theirs, sibling]) {
        await f.pack.apply(f.ctx, at(x, 'staged'));
        await f.pack.warm(f.ctx, at(x, 'warming'), { timeoutMs: t.warmMs });
      }
      const others = async () => {
        const live = await f.pack.status(f.ctx);
        return `${fingerprint(live, 'conf-iso-b')} | ${fingerprint(live, 'conf-iso-c')}`;
      };
      const baseline = await others();
      expect(
        !baseline.includes(':absent') && baseline.split('running').length === 3,
        `the two bystander revisions are not both running: ${baseline}`,
      );
      const unchanged = async (step: string) => {
        const now = await others();
        expect(now === baseline, `${step} of ${name(mine)} affected another tenant/deployment: ${baseline} → ${now}`);
      };

      await f.pack.apply(f.ctx, at(mine, 'staged'));
      await unchanged('apply');
      await f.pack.warm(f.ctx, at(mine, 'warming'), { timeoutMs: t.warmMs });
      await unchanged('warm');
      await f.pack.drain(f.ctx, at(mine, 'draining'), { timeoutMs: t.drainMs });
      await unchanged('drain');
      await f.pack.archive(f.ctx, at(mine, 'archived'));
      await unchanged('archive');

      const broken = s.track(f.failingTarget('conf-iso-b', 'tenant-b', 'r2'));
      await f.pack.apply(f.ctx, at(broken, 'staged'));
      const out = await settle(
        f.pack.warm(f.ctx, at(broken, 'warming'), { timeoutMs: t.failMs }),
        t.failMs + t.settleSlackMs,
      );
      expect(out && !out.ok, `warm of the failing ${name(broken)} did not fail in time`);
      const now = await f.pack.status(f.ctx);
      const still = `${fingerprint(now, 'conf-iso-b').replace(/ ?r2:[^ ]*/, '')} | ${fingerprint(now, 'conf-iso-c')}`;
      expect(
        still.trim() === baseline,
        `a failing revision in conf-iso-b affected its neighbours: ${baseline} → ${still}`,
      );

      const scoped = await f.pack.status(f.ctx, { deployment: 'conf-iso-c' });
      expect(
        scoped.revisions.every((x) => x.deployment === 'conf-iso-c'),
        `status scoped to conf-iso-c lists other deployments: ${scoped.revisions.map((x) => x.deployment).join(', ')}`,
      );
    });
  },
};

/** Every check, in the order they run (cheap and foundational first). */
export const CHECKS: readonly Check[] = [
  credentialsVerify,
  archiveRefused,
  idempotent,
  routing,
  drift,
  drainInFlight,
  failingHealth,
  isolation,
];
