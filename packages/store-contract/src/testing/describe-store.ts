import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { GreenticStore } from '../contract';
import { isStoreError } from '../errors';
import { ACTOR, bundle, deployment, environment, opts, PASSED, refusal, revision } from './fixtures';
import type { DescribeStoreOptions, StoreHarness } from './harness';

/**
 * Register the store contract suite for one implementation. Every backend (SQLite file, Postgres, HTTP over
 * either) calls it with its own `create`; the tests are identical.
 *
 * @example
 * import { describeStore } from '@greentic/store-contract/testing';
 * describeStore({ name: 'sqlite file', create: async () => makeHarness(), capabilities: { tamper: true, reopen: true, backup: true } });
 */
export function describeStore(options: DescribeStoreOptions): void {
  const caps = options.capabilities ?? {};
  describe(`store contract: ${options.name}`, () => {
    let h: StoreHarness;
    let store: GreenticStore;
    beforeEach(async () => {
      h = await options.create();
      store = h.store;
    });
    afterEach(async () => {
      await h.destroy();
    });

    describe('environments', () => {
      it('creates, reads with a version tag, and updates only with the current tag', async () => {
        const created = await store.putEnvironment(environment('zain-prod', { region: 'eu' }), opts());
        expect(created.replayed).toBe(false);
        expect(created.version).toEqual(expect.any(String));
        const read = await store.getEnvironment('zain-prod');
        expect(read).toEqual({ value: environment('zain-prod', { region: 'eu' }), version: created.version });

        const updated = await store.putEnvironment(
          environment('zain-prod', { region: 'us' }),
          opts({ expectedVersion: read.version }),
        );
        expect(updated.version).not.toBe(read.version);
        expect((await store.getEnvironment('zain-prod')).value.config).toEqual({ region: 'us' });

        const stale = await refusal(
          store.putEnvironment(environment('zain-prod', { region: 'ap' }), opts({ expectedVersion: read.version })),
          'version-conflict',
        );
        expect(stale.details.currentVersion).toBe(updated.version);
        expect(stale.status).toBe(412);
        await refusal(store.putEnvironment(environment('zain-prod'), opts()), 'precondition-required');
        const exists = await refusal(
          store.putEnvironment(environment('zain-prod'), opts({ createOnly: true })),
          'version-conflict',
        );
        expect(exists.details.currentVersion).toBe(updated.version);
        expect((await store.getEnvironment('zain-prod')).value.config).toEqual({ region: 'us' });
      });

      it('refuses invalid input with every error (path and message) and changes nothing', async () => {
        const bad = { name: 'Zain_Prod', slots: {}, config: { ok: true, nested: { no: 1 } } };
        const e = await refusal(store.putEnvironment(bad as never, opts()), 'invalid');
        expect(e.details.errors?.map((x) => x.path)).toEqual(expect.arrayContaining(['/name', '/config/nested']));
        expect(await store.listEnvironments()).toEqual([]);
      });

      it('lists, deletes, and reports not-found', async () => {
        await store.putEnvironment(environment('b-env'), opts());
        const a = await store.putEnvironment(environment('a-env'), opts());
        expect((await store.listEnvironments()).map((e) => e.value.name)).toEqual(['a-env', 'b-env']);
        await refusal(store.deleteEnvironment('a-env', opts()), 'precondition-required');
        const del = await store.deleteEnvironment('a-env', opts({ expectedVersion: a.version ?? '' }));
        expect(del.version).toBeNull();
        const nf = await refusal(store.getEnvironment('a-env'), 'not-found');
        expect(nf.message).toContain('a-env');
        expect(nf.status).toBe(404);
      });

      it('refuses to delete an environment that still has deployments', async () => {
        const env = await store.putEnvironment(environment('local'), opts());
        await store.createDeployment(deployment('local', 'support'), opts());
        const e = await refusal(
          store.deleteEnvironment('local', opts({ expectedVersion: env.version ?? '' })),
          'lifecycle-refused',
        );
        expect(e.message).toContain('support');
      });
    });

    describe('slots and config', () => {
      it('attaches, lists and detaches env-packs under the environment tag', async () => {
        const env = await store.putEnvironment(environment('local'), opts());
        const pack = { id: 'greentic.deployer.local-process', version: '1.0.0' };
        const attached = await store.attachPack(
          'local',
          'deployer',
          pack,
          opts({ expectedVersion: env.version ?? '' }),
        );
        expect(attached.value).toEqual({ deployer: pack });
        const listed = await store.listPacks('local');
        expect(listed).toEqual({ value: { deployer: pack }, version: attached.version });
        await refusal(
          store.attachPack(
            'local',
            'secrets',
            { id: 'greentic.secrets.file' },
            opts({ expectedVersion: env.version ?? '' }),
          ),
          'version-conflict',
        );
        await refusal(
          store.attachPack('local', 'deployer', { id: 'Not A Pack' }, opts({ expectedVersion: listed.version })),
          'invalid',
        );
        const detached = await store.detachPack('local', 'deployer', opts({ expectedVersion: listed.version }));
        expect(detached.value).toEqual({});
        await refusal(
          store.detachPack('local', 'deployer', opts({ expectedVersion: detached.version ?? '' })),
          'not-found',
        );
      });

      it('sets and reads config, sharing the environment tag', async () => {
        const env = await store.putEnvironment(environment('local', { a: 1 }), opts());
        expect(await store.getConfig('local')).toEqual({ value: { a: 1 }, version: env.version });
        const set = await store.setConfig('local', { a: 2, b: 'x' }, opts({ expectedVersion: env.version ?? '' }));
        expect((await store.getEnvironment('local')).version).toBe(set.version);
        await refusal(store.setConfig('local', { a: 3 }, opts()), 'precondition-required');
        await refusal(
          store.setConfig('local', { 'bad key!': 1 }, opts({ expectedVersion: set.version ?? '' })),
          'invalid',
        );
        expect((await store.getConfig('local')).value).toEqual({ a: 2, b: 'x' });
      });
    });

    describe('bundles and deployments', () => {
      it('publishes immutable bundles and lists them by id', async () => {
        const b1 = await store.publishBundle(bundle('support-bot', '1.0.0'), opts());
        await store.publishBundle(bundle('support-bot', '1.1.0'), opts());
        await store.publishBundle(bundle('other', '1.0.0'), opts());
        expect(await store.getBundle('support-bot', '1.0.0')).toEqual({
          value: bundle('support-bot', '1.0.0'),
          version: b1.version,
        });
        expect((await store.listBundles({ id: 'support-bot' })).map((b) => b.value.version)).toEqual([
          '1.0.0',
          '1.1.0',
        ]);
        expect(await store.listBundles()).toHaveLength(3);
        await refusal(
          store.publishBundle({ ...bundle('support-bot', '1.0.0'), runtime: ['runtime://x/y'] }, opts()),
          'version-conflict',
        );
        await refusal(store.getBundle('support-bot', '9.9.9'), 'not-found');
      });

      it('creates deployments only in existing environments and sets the billing customer under CAS', async () => {
        await refusal(store.createDeployment(deployment('nowhere', 'support'), opts()), 'not-found');
        await store.putEnvironment(environment('local'), opts());
        const d = await store.createDeployment(deployment('local', 'support'), opts());
        await refusal(store.createDeployment(deployment('local', 'support'), opts()), 'version-conflict');
        await store.createDeployment(deployment('local', 'billing'), opts());
        expect((await store.listDeployments('local')).map((x) => x.value.name)).toEqual(['billing', 'support']);
        const b = await store.setBillingCustomer(
          'local',
          'support',
          'cust-9',
          opts({ expectedVersion: d.version ?? '' }),
        );
        expect(b.value.billingCustomer).toBe('cust-9');
        expect((await store.getDeployment('local', 'support')).version).toBe(b.version);
        await refusal(
          store.setBillingCustomer('local', 'support', 'cust-8', opts({ expectedVersion: d.version ?? '' })),
          'version-conflict',
        );
        await refusal(
          store.setBillingCustomer('local', 'support', 'has space', opts({ expectedVersion: b.version ?? '' })),
          'invalid',
        );
      });
    });

    describe('revisions', () => {
      beforeEach(async () => {
        await store.putEnvironment(environment('local'), opts());
        await store.createDeployment(deployment('local', 'support'), opts());
      });

      it('stages and walks the lifecycle, refusing illegal moves with the reason of revision-machine', async () => {
        const staged = await store.stageRevision(revision('local', 'support', 'r1'), opts());
        expect(staged.value.state).toBe('staged');
        await refusal(store.stageRevision(revision('local', 'support', 'r1'), opts()), 'version-conflict');
        await refusal(store.stageRevision(revision('local', 'nope', 'r1'), opts()), 'not-found');

        const illegal = await refusal(
          store.transitionRevision('local', 'support', 'r1', 'drain', opts({ expectedVersion: staged.version ?? '' })),
          'lifecycle-refused',
        );
        expect(illegal.details.reason?.code).toBe('illegal-transition');
        const warming = await store.transitionRevision(
          'local',
          'support',
          'r1',
          'warm',
          opts({ expectedVersion: staged.version ?? '' }),
        );
        expect(warming.value.state).toBe('warming');
        const noHealth = await refusal(
          store.transitionRevision(
            'local',
            'support',
            'r1',
            'mark-ready',
            opts({ expectedVersion: warming.version ?? '' }),
          ),
          'lifecycle-refused',
        );
        expect(noHealth.details.reason?.code).toBe('health-not-passed');
        const ready = await store.transitionRevision('local', 'support', 'r1', 'mark-ready', {
          ...opts({ expectedVersion: warming.version ?? '' }),
          health: PASSED,
        });
        expect(ready.value).toMatchObject({ state: 'ready', health: PASSED });
        await refusal(store.transitionRevision('local', 'support', 'r1', 'drain', opts()), 'precondition-required');
        await refusal(
          store.transitionRevision('local', 'support', 'r1', 'drain', opts({ expectedVersion: warming.version ?? '' })),
          'version-conflict',
        );
        expect((await store.getRevision('local', 'support', 'r1')).version).toBe(ready.version);
        const draining = await store.transitionRevision(
          'local',
          'support',
          'r1',
          'drain',
          opts({ expectedVersion: ready.version ?? '' }),
        );
        expect(draining.value.state).toBe('draining');
        const back = await store.transitionRevision(
          'local',
          'support',
          'r1',
          'cancel-drain',
          opts({ expectedVersion: draining.version ?? '' }),
        );
        expect(back.value.state).toBe('ready');
        expect(
          (await store.queryAudit({ action: 'revision.' })).filter((e) => e.outcome === 'applied').map((e) => e.action),
        ).toEqual([
          'revision.stage',
          'revision.warm',
          'revision.mark-ready',
          'revision.drain',
          'revision.cancel-drain',
        ]);
      });

      it('refuses to drain or archive a revision that holds traffic', async () => {
        const r1 = await readyRevision(store, 'r1');
        await store.setTraffic(
          { environment: 'local', deployment: 'support', entries: [{ revision: 'r1', weight: 10000 }] },
          opts(),
        );
        const e = await refusal(
          store.transitionRevision('local', 'support', 'r1', 'drain', opts({ expectedVersion: r1 })),
          'lifecycle-refused',
        );
        expect(e.details.reason?.code).toBe('holds-traffic');
        expect(e.status).toBe(409);
        expect((await store.getRevision('local', 'support', 'r1')).value.state).toBe('ready');
      });

      it('records a failure and nothing leaves archived', async () => {
        const s = await store.stageRevision(revision('local', 'support', 'r2'), opts());
        const w = await store.transitionRevision(
          'local',
          'support',
          'r2',
          'warm',
          opts({ expectedVersion: s.version ?? '' }),
        );
        const f = await store.transitionRevision('local', 'support', 'r2', 'fail', {
          ...opts({ expectedVersion: w.version ?? '' }),
          failureReason: 'health check timed out',
        });
        expect(f.value).toMatchObject({ state: 'failed', failureReason: 'health check timed out' });
        const a = await store.transitionRevision(
          'local',
          'support',
          'r2',
          'archive',
          opts({ expectedVersion: f.version ?? '' }),
        );
        const t = await refusal(
          store.transitionRevision('local', 'support', 'r2', 'warm', opts({ expectedVersion: a.version ?? '' })),
          'lifecycle-refused',
        );
        expect(t.details.reason?.code).toBe('terminal-state');
        expect((await store.listRevisions('local', 'support')).map((r) => [r.value.id, r.value.state])).toEqual([
          ['r2', 'archived'],
        ]);
      });
    });

    describe('traffic', () => {
      beforeEach(async () => {
        await store.putEnvironment(environment('local'), opts());
        await store.createDeployment(deployment('local', 'support'), opts());
      });
      const split = (entries: { revision: string; weight: number }[]) => ({
        environment: 'local',
        deployment: 'support',
        entries,
      });

      it('accepts only ready revisions and weights summing to 10000, one split per deployment', async () => {
        await readyRevision(store, 'r1');
        await readyRevision(store, 'r2');
        await store.stageRevision(revision('local', 'support', 'r3'), opts());
        const sum = await refusal(store.setTraffic(split([{ revision: 'r1', weight: 5000 }]), opts()), 'invalid');
        expect(sum.details.errors?.[0]?.message).toContain('10000');
        const notReady = await refusal(
          store.setTraffic(
            split([
              { revision: 'r1', weight: 5000 },
              { revision: 'r3', weight: 5000 },
            ]),
            opts(),
          ),
          'lifecycle-refused',
        );
        expect(notReady.details.reason).toMatchObject({ code: 'not-ready', revision: 'r3' });
        await refusal(store.setTraffic(split([{ revision: 'r9', weight: 10000 }]), opts()), 'lifecycle-refused');
        await refusal(store.getTraffic('local', 'support'), 'not-found');

        const first = await store.setTraffic(split([{ revision: 'r1', weight: 10000 }]), opts());
        await refusal(store.setTraffic(split([{ revision: 'r2', weight: 10000 }]), opts()), 'precondition-required');
        const second = await store.setTraffic(
          split([
            { revision: 'r1', weight: 9000 },
            { revision: 'r2', weight: 1000 },
          ]),
          opts({ expectedVersion: first.version ?? '' }),
        );
        expect(await store.getTraffic('local', 'support')).toEqual({ value: second.value, version: second.version });
        await refusal(
          store.setTraffic(split([{ revision: 'r2', weight: 10000 }]), opts({ expectedVersion: first.version ?? '' })),
          'version-conflict',
        );
      });

      it('keeps the history and rolls back to the previous different split', async () => {
        await readyRevision(store, 'r1');
        await readyRevision(store, 'r2');
        await refusal(store.rollbackTraffic('local', 'support', opts()), 'not-found');
        const a = await store.setTraffic(split([{ revision: 'r1', weight: 10000 }]), opts());
        const nothing = await refusal(
          store.rollbackTraffic('local', 'support', opts({ expectedVersion: a.version ?? '' })),
          'lifecycle-refused',
        );
        expect(nothing.message).toContain('roll back');
        const b = await store.setTraffic(
          split([
            { revision: 'r1', weight: 5000 },
            { revision: 'r2', weight: 5000 },
          ]),
          opts({ expectedVersion: a.version ?? '' }),
        );
        const back = await store.rollbackTraffic('local', 'support', opts({ expectedVersion: b.version ?? '' }));
        expect(back.value.entries).toEqual([{ revision: 'r1', weight: 10000 }]);
        const history = await store.trafficHistory('local', 'support');
        expect(history.map((x) => x.entries)).toEqual([
          [{ revision: 'r1', weight: 10000 }],
          [
            { revision: 'r1', weight: 5000 },
            { revision: 'r2', weight: 5000 },
          ],
          [{ revision: 'r1', weight: 10000 }],
        ]);
        expect(history.at(-1)?.version).toBe(back.version);
        expect(history.every((x) => x.actor === ACTOR)).toBe(true);
      });
    });

    describe('secret references, credentials and tokens', () => {
      beforeEach(async () => {
        await store.putEnvironment(environment('local'), opts());
      });

      it('stores secret references, never values, and never echoes a refused value', async () => {
        const put = await store.putSecretRef('local', 'api-key', 'secret://vault/support/api-key', opts());
        expect(put.value).toEqual({ environment: 'local', name: 'api-key', ref: 'secret://vault/support/api-key' });
        const e = await refusal(store.putSecretRef('local', 'db', 'hunter2-plaintext', opts()), 'invalid');
        expect(JSON.stringify(e.toJSON())).not.toContain('hunter2');
        expect(e.message).toContain('secret://');
        expect((await store.listSecretRefs('local')).map((s) => s.value.name)).toEqual(['api-key']);
        await store.deleteSecretRef('local', 'api-key', opts({ expectedVersion: put.version ?? '' }));
        expect(await store.listSecretRefs('local')).toEqual([]);
        const audit = JSON.stringify(await store.queryAudit());
        expect(audit).not.toContain('hunter2');
      });

      it('records credentials bootstrap and rotation', async () => {
        const record = {
          environment: 'local',
          pack: 'greentic.deployer.local-process',
          mode: 'A' as const,
          requirements: [{ resource: 'processes', verbs: ['spawn'], scope: 'host' as const }],
          secretRef: 'secret://vault/local/deployer-key',
        };
        const boot = await store.recordBootstrap(record, opts());
        expect(await store.credentialRequirements('local', 'greentic.deployer.local-process')).toEqual({
          value: record,
          version: boot.version,
        });
        const rot = await store.rotateCredentials(
          'local',
          'greentic.deployer.local-process',
          { secretRef: 'secret://vault/local/deployer-key-2', rotatedAt: '2026-11-23T12:00:00Z' },
          opts({ expectedVersion: boot.version ?? '' }),
        );
        expect(rot.value).toMatchObject({
          secretRef: 'secret://vault/local/deployer-key-2',
          rotatedAt: '2026-11-23T12:00:00Z',
        });
        await refusal(
          store.rotateCredentials(
            'local',
            'greentic.deployer.local-process',
            { secretRef: 'plain' },
            opts({ expectedVersion: rot.version ?? '' }),
          ),
          'invalid',
        );
      });

      it('stores token hashes, finds active ones, and revokes', async () => {
        const t = await store.createToken(
          {
            hash: 'sha256:aaaa',
            actor: 'ci',
            roles: ['operator'],
            rules: [{ environments: 'zain-*', actions: ['traffic.set'] }],
          },
          opts(),
        );
        expect(JSON.stringify(t)).not.toContain('sha256:aaaa');
        expect((await store.findTokenByHash('sha256:aaaa'))?.value).toEqual(t.value);
        await refusal(
          store.createToken({ hash: 'sha256:bbbb', actor: 'x', roles: ['root' as never] }, opts()),
          'invalid',
        );
        const revoked = await store.revokeToken(t.value.id, opts({ expectedVersion: t.version ?? '' }));
        expect(revoked.value.revokedAt).toEqual(expect.any(String));
        expect(await store.findTokenByHash('sha256:aaaa')).toBeUndefined();
        expect((await store.listTokens()).map((x) => x.value.id)).toEqual([t.value.id]);
      });
    });

    describe('optimistic locking', () => {
      it('32 concurrent CAS writers on one object end with exactly as many increments as successes', async () => {
        await store.putEnvironment(environment('local', { counter: 0 }), opts());
        let successes = 0;
        let conflicts = 0;
        const writer = async () => {
          for (let attempt = 0; attempt < 400; attempt++) {
            const cur = await store.getConfig('local');
            try {
              await store.setConfig(
                'local',
                { counter: Number(cur.value.counter) + 1 },
                opts({ expectedVersion: cur.version }),
              );
              successes++;
              return;
            } catch (e) {
              if (!isStoreError(e, 'version-conflict')) throw e;
              conflicts++;
            }
          }
          throw new Error('writer gave up after 400 attempts');
        };
        await Promise.all(Array.from({ length: 32 }, writer));
        expect(successes).toBe(32);
        expect((await store.getConfig('local')).value.counter).toBe(32);
        const refused = await store.queryAudit({ action: 'config.set', outcome: 'refused', limit: 10000 });
        expect(refused.length).toBe(conflicts);
      });

      it('two writers from the same tag: exactly one succeeds', async () => {
        const env = await store.putEnvironment(environment('local', { v: 0 }), opts());
        const results = await Promise.allSettled([
          store.setConfig('local', { v: 1 }, opts({ expectedVersion: env.version ?? '' })),
          store.setConfig('local', { v: 2 }, opts({ expectedVersion: env.version ?? '' })),
        ]);
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        const rejected = results.find((r) => r.status === 'rejected');
        expect(isStoreError(rejected?.reason, 'version-conflict')).toBe(true);
      });
    });

    describe('idempotency', () => {
      it('replays the first result exactly, without executing again', async () => {
        const o = opts({ requestId: 'req-first' });
        const first = await store.putEnvironment(environment('local'), o);
        const auditBefore = await store.queryAudit();
        const again = await store.putEnvironment(environment('local'), { ...o, requestId: 'req-retry' });
        expect(again).toEqual({ ...first, replayed: true });
        expect(again.requestId).toBe('req-first');
        expect(JSON.parse(JSON.stringify(again))).toEqual(again);
        expect(await store.queryAudit()).toEqual(auditBefore);
      });

      it('refuses the same key with a different request (idempotency-key-reused)', async () => {
        const o = opts();
        await store.putEnvironment(environment('local'), o);
        const e = await refusal(store.putEnvironment(environment('other'), o), 'idempotency-key-reused');
        expect(e.status).toBe(422);
        await refusal(store.getEnvironment('other'), 'not-found');
        // the same key from another actor is another request
        const other = await store.putEnvironment(environment('other'), { ...o, actor: 'bob' });
        expect(other.replayed).toBe(false);
      });

      it('reports a key whose first call is still running (idempotency-in-flight)', async () => {
        const o = opts();
        const results = await Promise.allSettled(
          Array.from({ length: 8 }, () => store.putEnvironment(environment('local'), o)),
        );
        const executed = results.filter((r) => r.status === 'fulfilled' && !r.value.replayed);
        expect(executed).toHaveLength(1);
        const inFlight = results.filter(
          (r) => r.status === 'rejected' && isStoreError(r.reason, 'idempotency-in-flight'),
        );
        expect(inFlight.length).toBeGreaterThan(0);
        for (const r of results) {
          if (r.status === 'rejected') expect(isStoreError(r.reason, 'idempotency-in-flight')).toBe(true);
        }
        expect(inFlight[0]?.status === 'rejected' && inFlight[0].reason.status).toBe(409);
      });
    });

    describe('audit', () => {
      it('records every change and every refused attempt, chained and verifiable', async () => {
        const env = await store.putEnvironment(environment('local'), opts({ requestId: 'req-1' }));
        await refusal(store.setConfig('local', { a: 1 }, opts({ expectedVersion: 'v0-stale' })), 'version-conflict');
        await refusal(store.setConfig('local', { a: 1 }, opts()), 'precondition-required');
        await refusal(store.putEnvironment({ name: 'BAD' } as never, opts()), 'invalid');
        await store.setConfig('local', { a: 1 }, opts({ expectedVersion: env.version ?? '' }));
        await store.appendRefusal({
          actor: 'mallory',
          environment: 'local',
          action: 'traffic.set',
          target: 'local/support',
          status: 403,
          code: 'forbidden',
          requestId: 'req-403',
        });
        const all = await store.queryAudit();
        expect(all.map((e) => [e.action, e.outcome, e.code ?? null])).toEqual([
          ['environment.put', 'applied', null],
          ['config.set', 'refused', 'version-conflict'],
          ['config.set', 'refused', 'precondition-required'],
          ['environment.put', 'refused', 'invalid'],
          ['config.set', 'applied', null],
          ['traffic.set', 'refused', 'forbidden'],
        ]);
        expect(all[0]).toMatchObject({ seq: 1, actor: ACTOR, environment: 'local', requestId: 'req-1', before: null });
        expect(all[0]?.after).toMatch(/^sha256:/);
        expect(all.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
        for (let i = 1; i < all.length; i++) expect(all[i]?.prevHash).toBe(all[i - 1]?.hash);
        const v = await store.verifyAudit();
        expect(v).toMatchObject({ ok: true, entries: 6, problems: [] });
        expect(v.head).toEqual({ seq: 6, hash: all[5]?.hash });
        expect(await store.queryAudit({ outcome: 'refused', actor: 'mallory' })).toHaveLength(1);
        expect(await store.queryAudit({ action: 'config.', limit: 2 })).toHaveLength(2);
        expect(await store.queryAudit({ afterSeq: 4 })).toHaveLength(2);
      });

      it('retention keeps the newest entries and records the trimmed range so the chain still verifies', async () => {
        let v = (await store.putEnvironment(environment('local', { n: 0 }), opts())).version ?? '';
        for (let i = 1; i <= 12; i++)
          v = (await store.setConfig('local', { n: i }, opts({ expectedVersion: v }))).version ?? '';
        const before = await store.queryAudit();
        const report = await store.applyRetention({ audit: { keepEntries: 5 } }, { actor: 'admin' });
        expect(report.auditTrimmed).toEqual({ fromSeq: 1, toSeq: 8, anchorHash: before[7]?.hash });
        const after = await store.queryAudit();
        expect(after.map((e) => e.seq)).toEqual([9, 10, 11, 12, 13, 14]);
        expect(after.at(-1)).toMatchObject({ action: 'store.retention', actor: 'admin' });
        expect(after.at(-1)?.detail).toContain('1–8');
        expect(await store.verifyAudit()).toMatchObject({ ok: true, problems: [] });
        await store.setConfig('local', { n: 99 }, opts({ expectedVersion: v }));
        expect((await store.verifyAudit()).ok).toBe(true);
      });

      it('bounds the idempotency ledger and records the trim', async () => {
        const o = opts();
        await store.putEnvironment(environment('local'), o);
        await store.putEnvironment(environment('other'), opts());
        const report = await store.applyRetention({ ledger: { keepEntries: 1 } }, { actor: 'admin' });
        expect(report.ledgerTrimmed).toBe(1);
        expect((await store.queryAudit()).at(-1)?.detail).toContain('1');
        // the trimmed key is forgotten: the retry executes again and meets the existing environment
        await refusal(store.putEnvironment(environment('local'), o), 'precondition-required');
      });
    });

    if (caps.tamper) {
      describe('tamper detection', () => {
        it('names an edited and a deleted audit entry', async () => {
          let v = (await store.putEnvironment(environment('local', { n: 0 }), opts())).version ?? '';
          for (let i = 1; i <= 6; i++)
            v = (await store.setConfig('local', { n: i }, opts({ expectedVersion: v }))).version ?? '';
          await h.tamper?.editAuditEntry(3, { actor: 'mallory' });
          const edited = await store.verifyAudit();
          expect(edited.ok).toBe(false);
          expect(edited.problems).toContainEqual(expect.objectContaining({ seq: 3, problem: 'edited' }));
          await h.tamper?.deleteAuditEntry(5);
          const removed = await store.verifyAudit();
          expect(removed.problems).toContainEqual(expect.objectContaining({ seq: 5, problem: 'removed' }));
          expect(removed.problems.map((p) => p.message).join('\n')).toMatch(/5/);
        });

        it('detects a flipped byte in a stored object, names it, and refuses to serve it', async () => {
          await store.putEnvironment(environment('local', { region: 'eu' }), opts());
          await store.putEnvironment(environment('other'), opts());
          await store.createDeployment(deployment('local', 'support'), opts());
          await h.tamper?.flipObjectByte({ kind: 'deployment', key: 'local/support' });
          const report = await store.verifyIntegrity();
          expect(report.ok).toBe(false);
          expect(report.corrupt).toEqual([{ kind: 'deployment', key: 'local/support' }]);
          const e = await refusal(store.getEnvironment('other'), 'corrupt');
          expect(e.details.objects).toEqual([{ kind: 'deployment', key: 'local/support' }]);
          expect(e.message).toContain('local/support');
          expect(e.status).toBe(503);
          await refusal(store.putEnvironment(environment('third'), opts()), 'corrupt');
          // flipping the byte back repairs the row: a clean check lifts the lock
          await h.tamper?.flipObjectByte({ kind: 'deployment', key: 'local/support' });
          expect((await store.verifyIntegrity()).ok).toBe(true);
          expect((await store.getDeployment('local', 'support')).value).toEqual(deployment('local', 'support'));
        });

        if (caps.reopen) {
          it('verifies every object when it opens', async () => {
            await store.putEnvironment(environment('local'), opts());
            await store.publishBundle(bundle(), opts());
            await h.tamper?.flipObjectByte({ kind: 'bundle', key: 'support-bot@1.0.0' });
            const reopened = await h.reopen?.();
            const e = await refusal(reopened?.listEnvironments() ?? Promise.resolve(), 'corrupt');
            expect(e.details.objects).toEqual([{ kind: 'bundle', key: 'support-bot@1.0.0' }]);
          });
        }
      });
    }

    if (caps.backup) {
      describe('backup and restore', () => {
        it('drill: restores the backed-up generation object for object, tag for tag, audit head included', async () => {
          await buildLiveState(store);
          const snapshotBefore = await snapshot(store);
          const auditBefore = await store.queryAudit({ limit: 10000 });
          expect(auditBefore.length).toBeGreaterThanOrEqual(200);
          const file = h.tempFile('drill.backup');
          const manifest = await store.backup(file);
          expect(manifest.auditHead).toEqual({ seq: auditBefore.at(-1)?.seq, hash: auditBefore.at(-1)?.hash });
          expect(Object.keys(manifest.objects).length).toBe(countObjects(snapshotBefore));

          // keep changing the live store
          const env = await store.getEnvironment('env-0');
          await store.setConfig('env-0', { changed: true }, opts({ expectedVersion: env.version }));
          await store.putEnvironment(environment('after-backup'), opts());
          const live = await store.queryAudit({ limit: 10000 });

          const older = await refusal(store.restore(file, { actor: 'admin' }), 'lifecycle-refused');
          expect(older.message).toContain('older');
          expect(await store.queryAudit({ limit: 10000 })).toHaveLength(live.length + 1);

          const report = await store.restore(file, { actor: 'admin', force: true, requestId: 'req-restore' });
          expect(report.forced).toBe(true);
          expect(await snapshot(store)).toEqual(snapshotBefore);
          const restoredAudit = await store.queryAudit({ limit: 10000 });
          expect(restoredAudit.slice(0, auditBefore.length)).toEqual(auditBefore);
          expect(restoredAudit.slice(auditBefore.length).map((e) => [e.action, e.requestId])).toEqual([
            ['store.restore', 'req-restore'],
          ]);
          expect((await store.verifyAudit()).ok).toBe(true);
          expect((await store.verifyIntegrity()).ok).toBe(true);
          // the restored store keeps working
          const env0 = await store.getEnvironment('env-0');
          await store.setConfig('env-0', { after: 1 }, opts({ expectedVersion: env0.version }));
        });

        if (caps.tamper) {
          it('restoring a backup lifts the corrupt lock', async () => {
            await store.putEnvironment(environment('local', { a: 1 }), opts());
            const file = h.tempFile('heal.backup');
            await store.backup(file);
            await h.tamper?.flipObjectByte({ kind: 'environment', key: 'local' });
            await refusal(store.getConfig('local'), 'corrupt');
            await refusal(store.backup(h.tempFile('rotten.backup')), 'corrupt');
            await store.restore(file, { actor: 'admin' });
            expect((await store.getConfig('local')).value).toEqual({ a: 1 });
            expect((await store.verifyIntegrity()).ok).toBe(true);
          });
        }

        it('verifies a backup completely before replacing anything', async () => {
          await store.putEnvironment(environment('local', { a: 1 }), opts());
          const file = h.tempFile('bad.backup');
          await store.backup(file);
          const fs = await import('node:fs/promises');
          const text = await fs.readFile(file, 'utf8');
          await fs.writeFile(file, text.replace('"a":1', '"a":2'));
          const e = await refusal(store.restore(file, { actor: 'admin', force: true }), 'corrupt');
          expect(e.message).toContain(file);
          expect((await store.getConfig('local')).value).toEqual({ a: 1 });
        });
      });
    }
  });
}

/** Stage, warm and mark ready one revision of local/support; returns its tag. */
async function readyRevision(store: GreenticStore, id: string, env = 'local', dep = 'support'): Promise<string> {
  const s = await store.stageRevision(revision(env, dep, id), opts());
  const w = await store.transitionRevision(env, dep, id, 'warm', opts({ expectedVersion: s.version ?? '' }));
  const r = await store.transitionRevision(env, dep, id, 'mark-ready', {
    ...opts({ expectedVersion: w.version ?? '' }),
    health: PASSED,
  });
  return r.version ?? '';
}

/** A realistic live state: environments, deployments, revisions in every state, splits, config, refs, ~200+ audit entries. */
async function buildLiveState(store: GreenticStore): Promise<void> {
  await store.publishBundle(bundle(), opts());
  await store.createToken({ hash: 'sha256:drill-token', actor: 'ci', roles: ['operator'] }, opts());
  for (let e = 0; e < 3; e++) {
    const name = `env-${e}`;
    let v = (await store.putEnvironment(environment(name, { tier: e }), opts())).version ?? '';
    v =
      (
        await store.attachPack(
          name,
          'deployer',
          { id: 'greentic.deployer.local-process' },
          opts({ expectedVersion: v }),
        )
      ).version ?? '';
    await store.putSecretRef(name, 'api-key', `secret://vault/${name}/api-key`, opts());
    await store.recordBootstrap(
      { environment: name, pack: 'greentic.deployer.local-process', mode: 'A', requirements: [] },
      opts(),
    );
    for (let d = 0; d < 2; d++) {
      const dep = `dep-${d}`;
      await store.createDeployment(deployment(name, dep), opts());
      // r-ready (traffic), r-ready2, r-staged, r-warming, r-failed, r-draining, r-archived
      await readyRevision(store, 'r-ready', name, dep);
      await readyRevision(store, 'r-ready2', name, dep);
      await store.stageRevision(revision(name, dep, 'r-staged'), opts());
      const w = await store.stageRevision(revision(name, dep, 'r-warming'), opts());
      await store.transitionRevision(name, dep, 'r-warming', 'warm', opts({ expectedVersion: w.version ?? '' }));
      const f = await store.stageRevision(revision(name, dep, 'r-failed'), opts());
      const fw = await store.transitionRevision(
        name,
        dep,
        'r-failed',
        'warm',
        opts({ expectedVersion: f.version ?? '' }),
      );
      await store.transitionRevision(name, dep, 'r-failed', 'fail', opts({ expectedVersion: fw.version ?? '' }));
      const dr = await readyRevision(store, 'r-draining', name, dep);
      await store.transitionRevision(name, dep, 'r-draining', 'drain', opts({ expectedVersion: dr }));
      const ar = await readyRevision(store, 'r-archived', name, dep);
      const ad = await store.transitionRevision(name, dep, 'r-archived', 'drain', opts({ expectedVersion: ar }));
      await store.transitionRevision(name, dep, 'r-archived', 'archive', opts({ expectedVersion: ad.version ?? '' }));
      const split = (w1: number) => ({
        environment: name,
        deployment: dep,
        entries: [
          { revision: 'r-ready', weight: w1 },
          { revision: 'r-ready2', weight: 10000 - w1 },
        ],
      });
      let t = (await store.setTraffic(split(10000), opts())).version ?? '';
      t = (await store.setTraffic(split(9000), opts({ expectedVersion: t }))).version ?? '';
      t = (await store.setTraffic(split(5000), opts({ expectedVersion: t }))).version ?? '';
      await refusal(store.setTraffic(split(4000), opts({ expectedVersion: 'v1-stale' })), 'version-conflict');
    }
    for (let i = 0; i < 30; i++)
      v = (await store.setConfig(name, { tier: e, step: i }, opts({ expectedVersion: v }))).version ?? '';
  }
}

type Snapshot = Record<string, unknown>;

/** Everything readable through the verbs, with version tags. */
async function snapshot(store: GreenticStore): Promise<Snapshot> {
  const out: Snapshot = {};
  out.bundles = await store.listBundles();
  out.tokens = await store.listTokens();
  const envs = await store.listEnvironments();
  out.environments = envs;
  for (const e of envs) {
    const name = e.value.name;
    out[`secrets ${name}`] = await store.listSecretRefs(name);
    out[`credentials ${name}`] = await store
      .credentialRequirements(name, 'greentic.deployer.local-process')
      .catch(() => null);
    const deps = await store.listDeployments(name);
    out[`deployments ${name}`] = deps;
    for (const d of deps) {
      const dep = d.value.name;
      out[`revisions ${name}/${dep}`] = await store.listRevisions(name, dep);
      out[`traffic ${name}/${dep}`] = await store.getTraffic(name, dep).catch(() => null);
      out[`history ${name}/${dep}`] = await store.trafficHistory(name, dep);
    }
  }
  return out;
}

function countObjects(s: Snapshot): number {
  let n = 0;
  for (const [k, v] of Object.entries(s)) {
    if (v === null) continue;
    if (k.startsWith('traffic ') || k.startsWith('credentials ')) n += 1;
    else if (Array.isArray(v)) n += v.length;
  }
  return n;
}
