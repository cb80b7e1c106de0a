import type { Bundle, ConfigMap, Deployment, Revision, RuntimeConfig, TrafficEntry } from '@greentic/deploy-spec';
import type { DesiredState, RevisionTarget } from '@greentic/env-pack';
import { formatPercent, formatSplit } from '@greentic/revision-machine';
import type { GreenticStore, Versioned } from '@greentic/store-contract';
import type { CommandIO } from '../base-command';
import { CliError } from '../cli-error';
import type { BoundDeployer, Session } from '../session';

/** True when `e` carries a store/env-pack `code` equal to `code`. */
export function hasCode(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === code;
}

/** Run `read`; `undefined` when the store says not-found. */
export async function readOptional<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (e) {
    if (hasCode(e, 'not-found')) return undefined;
    throw e;
  }
}

/**
 * Turn a version conflict into what the operator needs: the object changed since we read it, what it is now,
 * and the command to run again. Other errors pass through.
 */
export async function explainConflict<T>(
  what: string,
  retry: string,
  work: () => Promise<T>,
  current?: () => Promise<string>,
): Promise<T> {
  try {
    return await work();
  } catch (e) {
    if (!hasCode(e, 'version-conflict') && !hasCode(e, 'precondition-required')) throw e;
    const now = current ? await current().catch(() => undefined) : undefined;
    const tag = (e as { details?: { currentVersion?: string | null } }).details?.currentVersion;
    throw new CliError(
      'conflict',
      `${what} was changed by someone else since this command read it${tag ? ` (now at version ${tag})` : ''}${now ? `; it is now: ${now}` : ''}; nothing was changed`,
      { code: 'version-conflict', hint: `check the new state, then run again: ${retry}`, cause: e },
    );
  }
}

/** Parse `key=value` pairs: numbers and true/false become such, a quoted value stays a string. */
export function parsePairs(pairs: readonly string[], what: string): ConfigMap {
  const out: ConfigMap = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0) {
      throw new CliError('usage', `${what} "${p}" is not key=value`, {
        hint: `write it as key=value, e.g. log.level=debug`,
      });
    }
    const key = p.slice(0, eq);
    const raw = p.slice(eq + 1);
    out[key] = parseScalar(raw);
  }
  return out;
}

function parseScalar(raw: string): string | number | boolean {
  if (/^".*"$/.test(raw) || /^'.*'$/.test(raw)) return raw.slice(1, -1);
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  if (/^-?\d+(\.\d+)?$/.test(raw) && raw.length < 16) return Number(raw);
  return raw;
}

/** `r7 of local/support` */
export function revisionLabel(environment: string, deployment: string, revision: string): string {
  return `${revision} of ${environment}/${deployment}`;
}

/** The split of a deployment, or an empty list when it has none yet. */
export async function currentSplit(
  store: GreenticStore,
  environment: string,
  deployment: string,
): Promise<{ entries: readonly TrafficEntry[]; version: string | undefined }> {
  const t = await readOptional(() => store.getTraffic(environment, deployment));
  return { entries: t?.value.entries ?? [], version: t?.version };
}

/** Everything the deployer needs about the environment: every deployment's live-worthy revisions with weights. */
export async function desiredState(
  session: Session,
  bound: BoundDeployer,
  only?: string,
): Promise<{ desired: DesiredState; revisions: Map<string, Versioned<Revision>[]> }> {
  const { store } = session;
  const envName = bound.environment.value.name;
  const deployments = (await store.listDeployments(envName)).filter((d) => !only || d.value.name === only);
  const targets: RevisionTarget[] = [];
  const revisions = new Map<string, Versioned<Revision>[]>();
  const bundles = new Map<string, Bundle>();
  for (const d of deployments) {
    const revs = await store.listRevisions(envName, d.value.name);
    revisions.set(d.value.name, revs);
    const { entries } = await currentSplit(store, envName, d.value.name);
    for (const r of revs) {
      targets.push(await targetOf(store, d.value, r.value, entries, bundles));
    }
  }
  return { desired: { environment: bound.environment.value, targets }, revisions };
}

async function targetOf(
  store: GreenticStore,
  deployment: Deployment,
  revision: Revision,
  split: readonly TrafficEntry[],
  cache: Map<string, Bundle>,
): Promise<RevisionTarget> {
  const key = `${revision.bundle.id}@${revision.bundle.version}`;
  let bundle = cache.get(key);
  if (!bundle) {
    bundle = (await store.getBundle(revision.bundle.id, revision.bundle.version)).value;
    cache.set(key, bundle);
  }
  return { deployment, revision, bundle, weight: split.find((e) => e.revision === revision.id)?.weight ?? 0 };
}

/** The target of one revision (deployment, revision, bundle, its weight now). */
export async function revisionTarget(
  store: GreenticStore,
  environment: string,
  deployment: string,
  revision: Revision,
): Promise<RevisionTarget> {
  const d = await store.getDeployment(environment, deployment);
  const { entries } = await currentSplit(store, environment, deployment);
  return targetOf(store, d.value, revision, entries, new Map());
}

/**
 * Hand the router the environment's runtime config: desired state from the store, endpoints from the live
 * system, through the deployer (`runtimeConfig` then `publishRoutes`).
 */
export async function publishRoutes(session: Session, bound: BoundDeployer): Promise<RuntimeConfig> {
  const { desired } = await desiredState(session, bound);
  const live = await bound.pack.status(bound.ctx);
  // The generation only grows: wall-clock milliseconds are monotonic enough across commands on one machine.
  const config = bound.pack.runtimeConfig(desired, live, Date.now());
  await bound.pack.publishRoutes(bound.ctx, config);
  return config;
}

/** "r7=90 r8=10", or "(no traffic)". */
export function describeSplit(entries: readonly TrafficEntry[]): string {
  return entries.length === 0 ? '(no traffic)' : formatSplit(entries);
}

export function percent(bps: number): string {
  return formatPercent(bps);
}

/** Print a mutation's outcome (JSON or one line) and whether it was a replay. */
export function done(io: CommandIO, line: string, json: unknown): number {
  if (io.json) io.out.json(json);
  else io.out.line(line);
  return 0;
}
