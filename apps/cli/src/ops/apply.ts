import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  canonicalJson,
  type Environment,
  type EnvironmentManifest,
  formatErrors,
  type ManifestDeployment,
  SLOTS,
  validate,
} from '@greentic/deploy-spec';
import { normalizeSplit, sameSplit } from '@greentic/revision-machine';
import type { Versioned } from '@greentic/store-contract';
import type { CommandIO } from '../base-command';
import { CliError } from '../cli-error';
import { currentSplit, describeSplit, explainConflict, publishRoutes, readOptional } from './common';
import { warm } from './revisions';

/** One line of the plan: what will be created, changed or removed, and why. */
export interface PlanStep {
  readonly action: 'create' | 'change' | 'remove' | 'warm';
  readonly object: string;
  readonly detail: string;
}

export interface ApplyInput {
  readonly file: string;
  readonly dryRun: boolean;
  readonly check: boolean;
}

async function readManifest(io: CommandIO, file: string): Promise<EnvironmentManifest> {
  let text: string;
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const c of io.stdin) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
    text = Buffer.concat(chunks).toString('utf8');
  } else {
    try {
      text = readFileSync(resolve(io.cwd, file), 'utf8');
    } catch (e) {
      throw new CliError('not-found', `cannot read the manifest ${file}: ${(e as Error).message}`, {
        code: 'not-found',
      });
    }
  }
  const { parse } = await import('yaml');
  let raw: unknown;
  try {
    raw = parse(text); // YAML is a superset of JSON: one parser for both
  } catch (e) {
    throw new CliError('usage', `${file} is neither YAML nor JSON: ${(e as Error).message}`, { code: 'invalid' });
  }
  const r = validate('environment-manifest', raw);
  if (!r.ok) {
    throw new CliError(
      'usage',
      `${file} is not a valid environment manifest; nothing was changed:\n${formatErrors(r.errors)}`,
      {
        code: 'invalid',
        hint: 'fix the fields named above (apiVersion greentic.ai/v1, kind Environment, name, slots, …)',
      },
    );
  }
  return r.value;
}

function environmentOf(m: EnvironmentManifest): Environment {
  return {
    name: m.name,
    slots: m.slots,
    config: m.config ?? {},
    ...(m.trustRoot ? { trustRoot: m.trustRoot } : {}),
  };
}

function diffEnvironment(want: Environment, have: Environment | undefined): PlanStep[] {
  if (!have) {
    const packs = Object.entries(want.slots).map(([slot, p]) => `${slot}=${p?.id}`);
    return [
      {
        action: 'create',
        object: `environment ${want.name}`,
        detail: `with ${packs.join(', ') || 'no packs'} and ${Object.keys(want.config).length} config keys`,
      },
    ];
  }
  const steps: PlanStep[] = [];
  for (const slot of SLOTS) {
    const w = want.slots[slot];
    const h = have.slots[slot];
    if (w && !h) steps.push({ action: 'create', object: `slot ${want.name}/${slot}`, detail: `attach ${w.id}` });
    else if (!w && h) steps.push({ action: 'remove', object: `slot ${want.name}/${slot}`, detail: `detach ${h.id}` });
    else if (w && h && canonicalJson(w) !== canonicalJson(h)) {
      steps.push({
        action: 'change',
        object: `slot ${want.name}/${slot}`,
        detail: `${h.id} → ${w.id}${w.id === h.id ? ' (config)' : ''}`,
      });
    }
  }
  const keys = new Set([...Object.keys(want.config), ...Object.keys(have.config)]);
  for (const k of [...keys].sort()) {
    const w = want.config[k];
    const h = have.config[k];
    if (w !== undefined && h === undefined)
      steps.push({ action: 'create', object: `config ${want.name}/${k}`, detail: `= ${JSON.stringify(w)}` });
    else if (w === undefined && h !== undefined)
      steps.push({ action: 'remove', object: `config ${want.name}/${k}`, detail: `was ${JSON.stringify(h)}` });
    else if (w !== h)
      steps.push({
        action: 'change',
        object: `config ${want.name}/${k}`,
        detail: `${JSON.stringify(h)} → ${JSON.stringify(w)}`,
      });
  }
  if (canonicalJson(want.trustRoot ?? null) !== canonicalJson(have.trustRoot ?? null)) {
    steps.push({
      action: have.trustRoot ? (want.trustRoot ? 'change' : 'remove') : 'create',
      object: `trust root of ${want.name}`,
      detail: `${want.trustRoot?.keys.length ?? 0} keys`,
    });
  }
  return steps;
}

export async function applyManifest(io: CommandIO, input: ApplyInput): Promise<number> {
  const manifest = await readManifest(io, input.file);
  const s = await io.session();
  const envName = manifest.name;
  const want = environmentOf(manifest);
  const have = await readOptional(() => s.store.getEnvironment(envName));
  const plan: PlanStep[] = diffEnvironment(want, have?.value);
  const notes: string[] = [];

  // Deployments, revisions and traffic.
  const existing = have ? await s.store.listDeployments(envName) : [];
  for (const d of manifest.deployments ?? []) {
    const cur = existing.find((e) => e.value.name === d.name);
    const label = `${envName}/${d.name}`;
    if (!cur)
      plan.push({ action: 'create', object: `deployment ${label}`, detail: `of ${d.bundleId} for tenant ${d.tenant}` });
    else {
      if (cur.value.tenant !== d.tenant || cur.value.bundleId !== d.bundleId) {
        throw new CliError(
          'conflict',
          `deployment ${label} exists for bundle ${cur.value.bundleId}, tenant ${cur.value.tenant}; the manifest says ${d.bundleId}, ${d.tenant}. A deployment's bundle and tenant never change; nothing was changed`,
          {
            code: 'immutable',
            hint: 'give the manifest deployment a new name',
          },
        );
      }
      if (cur.value.billingCustomer !== d.billingCustomer) {
        plan.push({
          action: 'change',
          object: `deployment ${label}`,
          detail: `billing customer ${cur.value.billingCustomer} → ${d.billingCustomer}`,
        });
      }
    }
    const revs = cur ? await s.store.listRevisions(envName, d.name) : [];
    const states = new Map(revs.map((r) => [r.value.id, r.value.state] as const));
    for (const r of d.revisions ?? []) {
      const stored = revs.find((x) => x.value.id === r.id);
      if (!stored) {
        const bundle = await readOptional(() => s.store.getBundle(r.bundle.id, r.bundle.version));
        if (!bundle || bundle.value.digest !== r.bundle.digest) {
          throw new CliError(
            'not-found',
            `revision ${r.id} of ${label} needs bundle ${r.bundle.id}@${r.bundle.version} with digest ${r.bundle.digest}, which is ${bundle ? `published with digest ${bundle.value.digest}` : 'not published'}; nothing was changed`,
            {
              code: 'bundle-missing',
              hint: 'publish that bundle first: gtc op bundles publish <folder> --version ' + r.bundle.version,
            },
          );
        }
        plan.push({
          action: 'create',
          object: `revision ${r.id} of ${label}`,
          detail: `from ${r.bundle.id}@${r.bundle.version}`,
        });
        states.set(r.id, 'staged');
      } else if (stored.value.bundle.digest !== r.bundle.digest) {
        throw new CliError(
          'conflict',
          `revision ${r.id} of ${label} exists with bundle ${stored.value.bundle.digest}; the manifest says ${r.bundle.digest}. Revisions never change; nothing was changed`,
          {
            code: 'immutable',
            hint: 'give the new content a new revision id in the manifest',
          },
        );
      }
    }
    if (d.traffic) {
      const wantSplit = normalizeSplit(d.traffic);
      const split = cur ? await currentSplit(s.store, envName, d.name) : { entries: [], version: undefined };
      for (const e of wantSplit) {
        const st = states.get(e.revision);
        if (st === undefined) {
          throw new CliError(
            'usage',
            `the traffic of ${label} names revision ${e.revision}, which neither exists nor is listed in the manifest`,
            { code: 'invalid' },
          );
        }
        if (st === 'staged')
          plan.push({
            action: 'warm',
            object: `revision ${e.revision} of ${label}`,
            detail: 'it receives traffic, so it must be ready',
          });
        else if (st !== 'ready') {
          throw new CliError(
            'conflict',
            `the traffic of ${label} gives weight to ${e.revision}, which is ${st}; only ready revisions may receive traffic`,
            {
              code: 'not-ready',
              hint: 'stage a new revision for that content and name it in the traffic',
            },
          );
        }
      }
      if (!sameSplit(split.entries, wantSplit)) {
        plan.push({
          action: 'change',
          object: `traffic of ${label}`,
          detail: `${describeSplit(split.entries)} → ${describeSplit(wantSplit)}`,
        });
      }
    }
  }
  const listed = new Set((manifest.deployments ?? []).map((d) => d.name));
  for (const d of existing)
    if (!listed.has(d.value.name))
      notes.push(`deployment ${envName}/${d.value.name} is not in the manifest; it is kept as it is`);

  printPlan(io, envName, plan, notes, input);
  if (plan.length === 0) return 0;
  if (input.check) return 7;
  if (input.dryRun) return 0;

  await execute(io, manifest, want, have, plan);
  if (!io.json) io.out.line(`applied ${plan.length} change(s) to ${envName}`);
  return 0;
}

function printPlan(
  io: CommandIO,
  env: string,
  plan: readonly PlanStep[],
  notes: readonly string[],
  input: ApplyInput,
): void {
  const mode = input.check ? 'check' : input.dryRun ? 'dry-run' : 'apply';
  if (io.json) {
    io.out.json({ environment: env, mode, converged: plan.length === 0, plan, notes });
    return;
  }
  const sign = {
    create: io.out.style('green', '+'),
    change: io.out.style('yellow', '~'),
    remove: io.out.style('red', '-'),
    warm: io.out.style('cyan', '↑'),
  };
  if (plan.length === 0) io.out.line(`${env} matches the manifest; nothing to do`);
  else {
    io.out.line(
      `plan for ${env} (${plan.filter((p) => p.action === 'create').length} to create, ${plan.filter((p) => p.action === 'change' || p.action === 'warm').length} to change, ${plan.filter((p) => p.action === 'remove').length} to remove):`,
    );
    for (const p of plan) io.out.line(`  ${sign[p.action]} ${p.action.padEnd(6)} ${p.object}: ${p.detail}`);
  }
  for (const n of notes) io.out.note(`[gtc] note: ${n}`);
  if (plan.length > 0 && input.check) io.out.note(`[gtc] ${env} has not converged to the manifest (exit 7)`);
  if (plan.length > 0 && input.dryRun && !input.check) io.out.note('[gtc] dry run: nothing was changed');
}

async function execute(
  io: CommandIO,
  manifest: EnvironmentManifest,
  want: Environment,
  have: Versioned<Environment> | undefined,
  plan: readonly PlanStep[],
): Promise<void> {
  const s = await io.session();
  const env = manifest.name;
  const retry = `gtc op env apply -f <manifest>`;
  if (plan.some((p) => /^(environment|slot|config|trust root)/.test(p.object))) {
    await explainConflict(`environment ${env}`, retry, () =>
      s.store.putEnvironment(
        want,
        have
          ? s.mutation(io.key('apply.environment'), have.version)
          : { ...s.mutation(io.key('apply.environment')), createOnly: true },
      ),
    );
  }
  const needsDeployer = plan.some((p) => p.action === 'warm' || p.object.startsWith('traffic'));
  const bound = needsDeployer ? await s.deployer(env, io.key) : undefined;
  for (const d of manifest.deployments ?? []) await applyDeployment(io, env, d, plan, retry);
  if (bound) {
    for (const d of manifest.deployments ?? []) {
      for (const e of normalizeSplit(d.traffic ?? [])) {
        const r = await s.store.getRevision(env, d.name, e.revision);
        if (r.value.state === 'staged' || r.value.state === 'warming') {
          await warm(io, s, bound, r, 60);
          if (!io.json) io.out.line(`warmed ${e.revision} of ${env}/${d.name}`);
        }
      }
      if (d.traffic && plan.some((p) => p.object === `traffic of ${env}/${d.name}`)) {
        const cur = await currentSplit(s.store, env, d.name);
        await explainConflict(`the traffic of ${env}/${d.name}`, retry, () =>
          s.store.setTraffic(
            { environment: env, deployment: d.name, entries: normalizeSplit(d.traffic ?? []) },
            s.mutation(io.key(`apply.traffic.${d.name}`), cur.version),
          ),
        );
      }
    }
    await publishRoutes(s, bound);
  }
}

async function applyDeployment(
  io: CommandIO,
  env: string,
  d: ManifestDeployment,
  plan: readonly PlanStep[],
  retry: string,
): Promise<void> {
  const s = await io.session();
  const label = `${env}/${d.name}`;
  if (plan.some((p) => p.action === 'create' && p.object === `deployment ${label}`)) {
    await s.store.createDeployment(
      { environment: env, name: d.name, tenant: d.tenant, billingCustomer: d.billingCustomer, bundleId: d.bundleId },
      { ...s.mutation(io.key(`apply.deployment.${d.name}`)), createOnly: true },
    );
  } else if (plan.some((p) => p.action === 'change' && p.object === `deployment ${label}`)) {
    const cur = await s.store.getDeployment(env, d.name);
    await explainConflict(`deployment ${label}`, retry, () =>
      s.store.setBillingCustomer(
        env,
        d.name,
        d.billingCustomer,
        s.mutation(io.key(`apply.billing.${d.name}`), cur.version),
      ),
    );
  }
  const envRead = await s.store.getEnvironment(env);
  for (const r of d.revisions ?? []) {
    if (!plan.some((p) => p.action === 'create' && p.object === `revision ${r.id} of ${label}`)) continue;
    const packConfig: Record<string, Record<string, string | number | boolean>> = {};
    for (const ref of Object.values(envRead.value.slots)) if (ref) packConfig[ref.id] = { ...(ref.config ?? {}) };
    const deployerId = envRead.value.slots.deployer?.id;
    const { bundleFilesDir } = await import('./bundles');
    const { existsSync } = await import('node:fs');
    const files = bundleFilesDir(s.home, r.bundle.id, r.bundle.version);
    if (deployerId && existsSync(files)) packConfig[deployerId] = { ...packConfig[deployerId], bundleDir: files };
    for (const [k, v] of Object.entries(r.packConfig ?? {})) packConfig[k] = { ...packConfig[k], ...v };
    const bundle = await s.store.getBundle(r.bundle.id, r.bundle.version);
    await s.store.stageRevision(
      {
        environment: env,
        deployment: d.name,
        id: r.id,
        bundle: r.bundle,
        packConfig,
        secretRefs: r.secretRefs ?? [...bundle.value.secrets],
      },
      { ...s.mutation(io.key(`apply.revision.${d.name}.${r.id}`)), createOnly: true },
    );
  }
}
