import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir, userInfo } from 'node:os';
import { posix, resolve } from 'node:path';
import { bytesDigest, formatErrors, type Permission, type RuntimeConfig, validate } from '@greentic/deploy-spec';
import {
  buildRuntimeConfig,
  type CredentialInput,
  type CredentialsVerification,
  type DeployerPack,
  type DesiredState,
  diffPermissions,
  EnvPackError,
  type LiveRevision,
  type LiveStatus,
  type PackContext,
  type PackFactoryOptions,
  type PlanAction,
  type PreflightCheck,
  type RevisionTarget,
  routingProblems,
  waitFor,
} from '@greentic/env-pack';
import { resolveCommit } from './git-source';
import { probeHost, type ReleaseStamp } from './host-probe';
import { checkLabel, checkRoot, isFullSha, releaseDirName, releasesDir, resolveSourceSha } from './release-names';
import { shipRelease } from './release-steps';
import { describeHost, type HostTarget, PACK_ID, remoteReason, runRemote } from './ssh-transport';

// The deployer env-pack view of a host: every revision runs as its own instance next to the others, on its own
// port, from an immutable release directory, so a host gets the same weighted, sticky, reversible traffic as
// Kubernetes (the dispatcher routes between instances by the published runtime config).
//
//   <root>/releases/<sha>-<label>/                     shared, immutable (the same as promote)
//   <root>/instances/<tenant>.<deployment>.<revision>/
//       release -> <root>/releases/<sha>-<label>       what this revision runs
//       instance.json  port  [draining]                identity, port, drain marker
//   <root>/routes/runtime-config.json                  what the dispatcher on the host reads
//
// Contract parts and how they map (README "As an env-pack"): apply = ship the release + create the instance
// (nothing serves); warm = start it with the instance start command and wait for GET <endpoint><healthPath>;
// drain = routes say draining, stop command (the service's stop lets in-flight work finish, e.g. SIGTERM),
// routes drop it; archive = stop + remove the instance (the release stays for hygiene); status = instance list,
// the status command and an HTTP health probe, re-derived every time; render = not applicable (a host has no
// declarative form); credentials mode B = not offered (creating a deploy user needs a human with sudo).

/** The pack's non-secret config (`slots.deployer.config` of the environment). */
export interface HostDeployerConfig {
  readonly host: string;
  readonly port?: number;
  readonly user: string;
  readonly identityFile: string;
  readonly knownHostsFile: string;
  readonly root: string;
  /** Default git worktree holding the worker's source; a revision may override it (`packConfig.worktree`). */
  readonly worktree?: string;
  readonly controlPath?: string;
  readonly connectTimeoutSeconds?: number;
  /** Host name the dispatcher uses to reach instance ports (default: `host`). */
  readonly publicHost?: string;
  /** Instance ports are chosen from this range (default 41000–41999). */
  readonly portRangeStart?: number;
  readonly portRangeEnd?: number;
  /**
   * Shell commands run on the host for one instance, with GREENTIC_INSTANCE, GREENTIC_DIR, GREENTIC_PORT set.
   * Needed by the env-pack (`createDeployer`), not by the `gtc op host` operations.
   */
  readonly instanceStart?: string;
  readonly instanceStop?: string;
  /** Exits 0 while the instance's process runs. */
  readonly instanceStatus?: string;
  /** Health path probed over HTTP (default: the bundle's `launch.healthPath`, else `/healthz`). */
  readonly healthPath?: string;
  /** The promote/rollback service (for `gtc op host …`); default `systemctl` on `serviceName`. */
  readonly serviceName?: string;
  readonly restartCommand?: string;
  readonly statusCommand?: string;
  readonly healthCommand?: string;
  readonly keepReleases?: number;
  readonly verifyTimeoutMs?: number;
}

type Config = Readonly<Record<string, string | number | boolean>>;

function str(c: Config, key: string, required: true): string;
function str(c: Config, key: string, required?: false): string | undefined;
function str(c: Config, key: string, required = false): string | undefined {
  const v = c[key];
  if (v === undefined || v === '') {
    if (required) {
      throw new EnvPackError('invalid-pack', `${PACK_ID} needs slots.deployer.config.${key} (see the package README)`, {
        pack: PACK_ID,
      });
    }
    return undefined;
  }
  return String(v);
}

function num(c: Config, key: string): number | undefined {
  const v = c[key];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    throw new EnvPackError(
      'invalid-pack',
      `slots.deployer.config.${key} must be a non-negative integer, got ${JSON.stringify(v)}`,
      {
        pack: PACK_ID,
      },
    );
  }
  return n;
}

/**
 * Read the pack config (flat strings/numbers from the environment) into a typed one; missing keys are named.
 *
 * @example
 * const cfg = parseHostDeployerConfig(environment.slots.deployer.config);
 */
export function parseHostDeployerConfig(c: Config): HostDeployerConfig {
  const root = str(c, 'root', true);
  checkRoot(root);
  const opt = <T>(key: string, v: T | undefined) => (v === undefined ? {} : { [key]: v });
  return {
    host: str(c, 'host', true),
    user: str(c, 'user', true),
    identityFile: str(c, 'identityFile', true),
    knownHostsFile: str(c, 'knownHostsFile', true),
    root,
    ...opt('instanceStart', str(c, 'instanceStart')),
    ...opt('instanceStop', str(c, 'instanceStop')),
    ...opt('instanceStatus', str(c, 'instanceStatus')),
    ...opt('port', num(c, 'port')),
    ...opt('worktree', str(c, 'worktree')),
    ...opt('controlPath', str(c, 'controlPath')),
    ...opt('connectTimeoutSeconds', num(c, 'connectTimeoutSeconds')),
    ...opt('publicHost', str(c, 'publicHost')),
    ...opt('portRangeStart', num(c, 'portRangeStart')),
    ...opt('portRangeEnd', num(c, 'portRangeEnd')),
    ...opt('healthPath', str(c, 'healthPath')),
    ...opt('serviceName', str(c, 'serviceName')),
    ...opt('restartCommand', str(c, 'restartCommand')),
    ...opt('statusCommand', str(c, 'statusCommand')),
    ...opt('healthCommand', str(c, 'healthCommand')),
    ...opt('keepReleases', num(c, 'keepReleases')),
    ...opt('verifyTimeoutMs', num(c, 'verifyTimeoutMs')),
  } as HostDeployerConfig;
}

/**
 * The `HostTarget` the release operations (promote, rollback, status, smoke, prune) use for an environment's pack
 * config: what `gtc op host …` builds from `slots.deployer.config`.
 *
 * @example
 * const target = hostTargetFromConfig(parseHostDeployerConfig(env.slots.deployer.config));
 * await promote(target, { worktree: '.', label: 'v2' });
 */
export function hostTargetFromConfig(cfg: HostDeployerConfig): HostTarget {
  const name = cfg.serviceName ?? 'greentic-agent';
  return {
    host: cfg.host,
    user: cfg.user,
    identityFile: cfg.identityFile,
    knownHostsFile: cfg.knownHostsFile,
    root: cfg.root,
    service: {
      name,
      restart: cfg.restartCommand ?? `systemctl restart ${name}`,
      status: cfg.statusCommand ?? `systemctl is-active --quiet ${name}`,
      ...(cfg.healthCommand ? { health: cfg.healthCommand } : {}),
    },
    ...(cfg.port !== undefined ? { port: cfg.port } : {}),
    ...(cfg.controlPath !== undefined ? { controlPath: cfg.controlPath } : {}),
    ...(cfg.connectTimeoutSeconds !== undefined ? { connectTimeoutSeconds: cfg.connectTimeoutSeconds } : {}),
    ...(cfg.keepReleases !== undefined ? { keepReleases: cfg.keepReleases } : {}),
    ...(cfg.verifyTimeoutMs !== undefined ? { verifyTimeoutMs: cfg.verifyTimeoutMs } : {}),
  };
}

interface InstanceMeta {
  readonly tenant: string;
  readonly deployment: string;
  readonly revision: string;
  readonly bundleDigest: string;
  readonly sha: string;
  readonly release: string;
  readonly port: number;
  readonly healthPath: string;
}

interface InstanceRow {
  readonly name: string;
  readonly dir: string;
  readonly meta: InstanceMeta | undefined;
  readonly releaseLink: string | undefined;
  readonly stampSha: string | undefined;
  readonly draining: boolean;
  /** Exit code of the instance status command (undefined when it was not run). */
  readonly statusExit: number | undefined;
}

const LIST = `
root=$1; status=$2; only=$3
for d in "$root"/instances/*/; do
  [ -d "$d" ] || continue
  d=\${d%/}; n=$(basename "$d")
  if [ -n "$only" ]; then case $n in *."$only".*) ;; *) continue ;; esac; fi
  meta=$(base64 -w0 < "$d/instance.json" 2>/dev/null)
  rl=$(readlink "$d/release" 2>/dev/null)
  stamp=""; [ -f "$d/release/.release.json" ] && stamp=$(base64 -w0 < "$d/release/.release.json")
  dr=0; [ -e "$d/draining" ] && dr=1
  st=-
  if [ -n "$status" ]; then
    GREENTIC_INSTANCE=$n GREENTIC_DIR=$d GREENTIC_PORT=$(cat "$d/port" 2>/dev/null) sh -c "$status" >/dev/null 2>&1; st=$?
  fi
  printf 'inst\\t%s\\t%s\\t%s\\t%s\\t%s\\t%s\\t%s\\n' "$n" "$d" "$meta" "$rl" "$stamp" "$dr" "$st"
done
exit 0
`;

const CREATE = `
dir=$1; release=$2; meta=$3; port=$4
[ -e "$dir" ] && exit 0
parent=$(dirname "$dir"); mkdir -p -- "$parent" || exit 10
inc="$parent/.incoming-$(basename "$dir")-$$"
mkdir -- "$inc" || exit 11
ln -s -- "$release" "$inc/release" && printf '%s\\n' "$meta" > "$inc/instance.json" && printf '%s\\n' "$port" > "$inc/port" || { rm -rf -- "$inc"; exit 12; }
mv -T -- "$inc" "$dir" 2>/dev/null || { rm -rf -- "$inc"; [ -d "$dir" ] || exit 13; }
`;

const RUN = `GREENTIC_INSTANCE=$1 GREENTIC_DIR=$2 GREENTIC_PORT=$3 sh -c "$4"`;

const ROUTES_WRITE = `
f=$1; json=$2; mkdir -p -- "$(dirname "$f")" || exit 10
printf '%s\\n' "$json" > "$f.tmp.$$" && mv -f -- "$f.tmp.$$" "$f"
`;

function b64json<T>(s: string | undefined): T | undefined {
  if (!s) return undefined;
  try {
    return JSON.parse(Buffer.from(s, 'base64').toString('utf8')) as T;
  } catch {
    return undefined;
  }
}

const label = (t: RevisionTarget) => `revision ${t.revision.id} of ${t.deployment.environment}/${t.deployment.name}`;

/**
 * Pure: the steps that would bring a host's instances to what the store wants (dry runs, `--check`).
 *
 * @example
 * planHost(desired, await pack.status(ctx)) // [{ kind: 'warm', deployment: 'support', revision: 'r2', reason: … }]
 */
export function planHost(desired: DesiredState, live: LiveStatus): PlanAction[] {
  const actions: PlanAction[] = [];
  const known = new Set<string>();
  for (const t of desired.targets) {
    const deployment = t.deployment.name;
    const revision = t.revision.id;
    known.add(`${deployment}/${revision}`);
    const l = live.revisions.find((r) => r.deployment === deployment && r.revision === revision);
    const phase = l?.phase ?? 'absent';
    const digestDiffers = l?.bundleDigest !== undefined && l.bundleDigest !== t.bundle.digest;
    const serving = phase === 'running' || phase === 'starting' || phase === 'draining';
    const state = t.revision.state;
    if (state === 'staged' || state === 'warming' || state === 'ready') {
      if (!l)
        actions.push({ kind: 'create', deployment, revision, reason: `store says ${state}, no instance on the host` });
    }
    if (state === 'warming' || state === 'ready') {
      if (phase === 'unhealthy' || digestDiffers) {
        actions.push({
          kind: 'restart',
          deployment,
          revision,
          reason: digestDiffers
            ? 'the instance runs another release than the one applied'
            : 'the instance is unhealthy',
        });
      } else if (!serving)
        actions.push({ kind: 'warm', deployment, revision, reason: `store says ${state}, live is ${phase}` });
    }
    if (state === 'draining' && serving && phase !== 'draining') {
      actions.push({ kind: 'drain', deployment, revision, reason: 'store says draining, the instance still serves' });
    }
    if ((state === 'archived' || state === 'failed') && l) {
      actions.push({ kind: 'remove', deployment, revision, reason: `store says ${state}, the instance is ${phase}` });
    }
  }
  for (const l of live.revisions) {
    if (!known.has(`${l.deployment}/${l.revision}`)) {
      actions.push({
        kind: 'remove',
        deployment: l.deployment,
        revision: l.revision,
        reason: 'not known to the store',
      });
    }
  }
  if (actions.length > 0) actions.push({ kind: 'route', reason: 'publish the runtime config for the new state' });
  return actions;
}

async function httpHealth(url: string, timeoutMs: number): Promise<{ ok: boolean; detail: string }> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await r.arrayBuffer();
    return { ok: r.ok, detail: `GET ${url} answered ${r.status}` };
  } catch (e) {
    return { ok: false, detail: `GET ${url} failed: ${(e as Error).message}` };
  }
}

/**
 * Create the greentic.deployer.host-release deployer env-pack (the `createDeployer` export declared in package.json).
 *
 * @example
 * const pack = createDeployer({ config: { host: 'agent-1', user: 'deploy', identityFile: '/keys/deploy', knownHostsFile: '/keys/known_hosts',
 *   root: '/opt/agent', worktree: '/src/agent', instanceStart: 'systemctl start agent@$GREENTIC_INSTANCE',
 *   instanceStop: 'systemctl stop agent@$GREENTIC_INSTANCE', instanceStatus: 'systemctl is-active --quiet agent@$GREENTIC_INSTANCE' } });
 */
export function createDeployer(options: PackFactoryOptions): DeployerPack {
  const parsed = parseHostDeployerConfig(options.config);
  const cfg = {
    ...parsed,
    instanceStart: str(options.config, 'instanceStart', true),
    instanceStop: str(options.config, 'instanceStop', true),
    instanceStatus: str(options.config, 'instanceStatus', true),
  };
  const base = hostTargetFromConfig(cfg);
  // The pack's own steps need no service commands: instances have theirs.
  const t: HostTarget = { ...base, service: { name: 'instances', restart: 'true', status: 'true' } };
  const publicHost = cfg.publicHost ?? cfg.host;
  const portStart = cfg.portRangeStart ?? 41_000;
  const portEnd = cfg.portRangeEnd ?? 41_999;
  const routesFile = posix.join(cfg.root, 'routes', 'runtime-config.json');
  const fail = (code: ConstructorParameters<typeof EnvPackError>[0], msg: string) =>
    new EnvPackError(code, msg, { pack: PACK_ID });

  function instanceName(target: RevisionTarget): string {
    return `${target.deployment.tenant}.${target.deployment.name}.${target.revision.id}`;
  }
  function instanceDir(target: RevisionTarget): string {
    return posix.join(cfg.root, 'instances', instanceName(target));
  }

  async function list(opts: { status: boolean; deployment?: string }): Promise<InstanceRow[]> {
    const r = await runRemote(t, LIST, [cfg.root, opts.status ? cfg.instanceStatus : '', opts.deployment ?? ''], {
      timeoutMs: 60_000,
    });
    if (r.code !== 0) throw fail('unavailable', `listing instances on ${describeHost(t)} failed: ${remoteReason(r)}`);
    const rows: InstanceRow[] = [];
    for (const line of r.stdout.split('\n')) {
      if (!line.startsWith('inst\t')) continue;
      const [, name = '', dir = '', meta, rl, stamp, dr, st] = line.split('\t');
      rows.push({
        name,
        dir,
        meta: b64json<InstanceMeta>(meta),
        releaseLink: rl || undefined,
        stampSha: b64json<{ sha?: string }>(stamp)?.sha,
        draining: dr === '1',
        statusExit: st === '-' || st === undefined ? undefined : Number(st),
      });
    }
    return rows;
  }

  function commitOf(target: RevisionTarget): { sha?: string; ref?: string; label: string; worktree?: string } {
    const pc = target.revision.packConfig[PACK_ID] ?? {};
    const sha = pc.sha === undefined ? undefined : String(pc.sha);
    const ref = pc.ref === undefined ? undefined : String(pc.ref);
    const lbl = pc.label === undefined ? target.revision.id : String(pc.label);
    const worktree = pc.worktree === undefined ? cfg.worktree : String(pc.worktree);
    if (sha === undefined && ref === undefined) {
      throw fail(
        'refused',
        `${label(target)} names no commit: set revision.packConfig["${PACK_ID}"].sha (the exact commit to ship) or .ref`,
      );
    }
    if (sha !== undefined && !isFullSha(sha)) {
      throw fail(
        'refused',
        `${label(target)}: packConfig["${PACK_ID}"].sha must be a full 40-hex commit id, got ${JSON.stringify(sha)}`,
      );
    }
    checkLabel(lbl);
    return { ...(sha ? { sha } : {}), ...(ref ? { ref } : {}), label: lbl, ...(worktree ? { worktree } : {}) };
  }

  async function ensureRelease(ctx: PackContext, target: RevisionTarget): Promise<{ sha: string; release: string }> {
    const c = commitOf(target);
    if (!c.worktree) {
      throw fail(
        'refused',
        `${label(target)}: no git worktree to ship from; set slots.deployer.config.worktree or packConfig.worktree`,
      );
    }
    const worktree = resolve(c.worktree);
    const resolved = await resolveCommit(worktree, c.sha ?? c.ref ?? 'HEAD');
    const name = releaseDirName(resolved.sha, c.label);
    const release = posix.join(releasesDir(cfg.root), name);
    const snap = await probeHost(t);
    if (snap.releases.some((r) => r.path === release)) return { sha: resolved.sha, release };
    const stamp: ReleaseStamp = {
      schema: 'greentic.host-release/v1',
      sha: resolved.sha,
      label: c.label,
      source: `${worktree}@${resolved.ref}`,
      promoter: `${userInfo().username}@${hostname()} (${PACK_ID}, ${label(target)})`,
      timestamp: new Date().toISOString(),
    };
    await shipRelease(t, { worktree, sha: resolved.sha, name, stamp: JSON.stringify(stamp) }).catch((e: unknown) => {
      // Another apply may have shipped the same release meanwhile: that is the same immutable content.
      if (e instanceof EnvPackError && /already exists/.test(e.message)) return;
      throw e;
    });
    ctx.log?.(`[${PACK_ID}] ${label(target)}: shipped ${resolved.sha} into ${release}`);
    return { sha: resolved.sha, release };
  }

  async function applyInstance(ctx: PackContext, target: RevisionTarget): Promise<InstanceMeta> {
    const dir = instanceDir(target);
    const rows = await list({ status: false });
    const mine = rows.find((r) => r.dir === dir);
    if (mine?.meta) {
      if (mine.meta.bundleDigest !== target.bundle.digest) {
        throw fail(
          'conflict',
          `${label(target)}: the instance on ${describeHost(t)} holds bundle ${mine.meta.bundleDigest}, not ${target.bundle.digest}; revisions are immutable — archive it first`,
        );
      }
      return mine.meta; // idempotent
    }
    const { sha, release } = await ensureRelease(ctx, target);
    const used = new Set(rows.map((r) => r.meta?.port).filter((p): p is number => p !== undefined));
    let port = portStart;
    while (used.has(port) && port <= portEnd) port++;
    if (port > portEnd)
      throw fail(
        'refused',
        `no free instance port left in ${portStart}–${portEnd} on ${describeHost(t)}; archive old revisions or widen portRangeEnd`,
      );
    const meta: InstanceMeta = {
      tenant: target.deployment.tenant,
      deployment: target.deployment.name,
      revision: target.revision.id,
      bundleDigest: target.bundle.digest,
      sha,
      release,
      port,
      healthPath: cfg.healthPath ?? target.bundle.launch?.healthPath ?? '/healthz',
    };
    const r = await runRemote(t, CREATE, [dir, release, JSON.stringify(meta), String(port)], { timeoutMs: 60_000 });
    if (r.code !== 0)
      throw fail(
        'failed',
        `${label(target)}: creating instance ${dir} on ${describeHost(t)} failed: ${remoteReason(r)}`,
      );
    ctx.log?.(`[${PACK_ID}] ${label(target)}: instance ${dir} → ${release} on port ${port}`);
    const again = (await list({ status: false })).find((x) => x.dir === dir)?.meta;
    return again ?? meta;
  }

  async function runInstance(target: RevisionTarget, meta: InstanceMeta, command: string, timeoutMs: number) {
    return runRemote(t, RUN, [instanceName(target), instanceDir(target), String(meta.port), command], { timeoutMs });
  }

  const healthUrl = (meta: InstanceMeta) => `http://${publicHost}:${meta.port}${meta.healthPath}`;

  async function editRoutes(deployment: string, revision: string, remove: boolean): Promise<void> {
    const r = await runRemote(t, 'cat -- "$1" 2>/dev/null || true', [routesFile], { timeoutMs: 30_000 });
    let current: RuntimeConfig | undefined;
    try {
      current = r.stdout.trim() ? (JSON.parse(r.stdout) as RuntimeConfig) : undefined;
    } catch {
      current = undefined;
    }
    if (!current) return;
    let changed = false;
    const deployments = current.deployments.map((d) => {
      if (d.name !== deployment) return d;
      const revisions = d.revisions.flatMap((x) => {
        if (x.id !== revision) return [x];
        changed = true;
        return remove ? [] : [{ ...x, state: 'draining' as const, weight: 0 }];
      });
      return { ...d, revisions };
    });
    if (!changed) return;
    await writeRoutes({ ...current, generation: current.generation + 1, deployments });
  }

  async function writeRoutes(config: RuntimeConfig): Promise<void> {
    const w = await runRemote(t, ROUTES_WRITE, [routesFile, JSON.stringify(config)], { timeoutMs: 30_000 });
    if (w.code !== 0) throw fail('failed', `writing ${routesFile} on ${describeHost(t)} failed: ${remoteReason(w)}`);
  }

  function refuseWithWeight(target: RevisionTarget, verb: string): void {
    if (target.weight > 0) {
      throw fail(
        'refused',
        `${label(target)}: cannot ${verb}, it holds ${target.weight} bps of traffic; move its traffic first (gtc op traffic set)`,
      );
    }
  }

  async function stopInstance(target: RevisionTarget, timeoutMs: number): Promise<void> {
    const row = (await list({ status: false })).find((r) => r.dir === instanceDir(target));
    if (!row?.meta) return;
    const r = await runInstance(target, row.meta, cfg.instanceStop, timeoutMs);
    if (r.code !== 0)
      throw fail('failed', `${label(target)}: stop command failed on ${describeHost(t)}: ${remoteReason(r)}`);
  }

  const requirements = (): Permission[] => [
    { resource: `ssh:${cfg.user}@${cfg.host}`, verbs: ['exec'], scope: 'host' },
    { resource: `file:${cfg.root}`, verbs: ['read', 'write'], scope: 'host' },
  ];

  async function withKey<T>(
    ctx: PackContext,
    input: CredentialInput,
    fn: (identityFile: string) => Promise<T>,
  ): Promise<T> {
    if (input.params?.identityFile) return fn(input.params.identityFile);
    let value = input.value;
    if (value === undefined && input.ref !== undefined) {
      if (!ctx.secrets)
        throw fail('credentials', `credential ${input.ref} needs a secrets pack in ${ctx.environment.name}`);
      value = await ctx.secrets.resolve(input.ref);
    }
    if (value === undefined)
      throw fail(
        'credentials',
        'credential is empty: pass a secret:// reference, a private key value, or params.identityFile',
      );
    // The key is used, never stored: a private temp file (0600), removed right after.
    const dir = await mkdtemp(posix.join(tmpdir(), 'ghr-key-'));
    const file = posix.join(dir, 'key');
    try {
      await writeFile(file, value.endsWith('\n') ? value : `${value}\n`, { mode: 0o600 });
      return await fn(file);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  const pack: DeployerPack = {
    id: PACK_ID,
    slot: 'deployer',
    capabilities: {
      render: false,
      drainsInFlight: true,
      credentialsModes: ['A'],
      summary:
        'exact-commit releases on plain hosts over ssh; each revision an instance on its own port behind the dispatcher',
    },

    async preflight() {
      const checks: PreflightCheck[] = [];
      const local = (bin: string, args: string[]) =>
        new Promise<boolean>((res) => {
          const c = spawn(bin, args, { stdio: 'ignore' });
          c.on('error', () => res(false));
          c.on('close', (code) => res(code === 0));
        });
      const ssh = await local('ssh', ['-V']);
      checks.push({
        name: 'ssh client',
        ok: ssh,
        message: ssh ? 'OpenSSH client found' : 'ssh not found',
        ...(ssh ? {} : { fix: 'install it with `apt-get install openssh-client`' }),
      });
      const git = await local('git', ['--version']);
      checks.push({
        name: 'git',
        ok: git,
        message: git ? 'git found' : 'git not found',
        ...(git ? {} : { fix: 'install it with `apt-get install git`' }),
      });
      try {
        const r = await runRemote(
          t,
          'for x in tar sha256sum base64 readlink mv; do command -v $x >/dev/null || echo "missing $x"; done; mv --version 2>/dev/null | grep -q GNU || echo "mv is not GNU (mv -T needed)"; r=$1; while [ ! -e "$r" ]; do r=$(dirname "$r"); done; [ -w "$r" ] || echo "not writable $r"',
          [cfg.root],
          { timeoutMs: 30_000 },
        );
        checks.push({ name: 'ssh reachable', ok: true, message: `${describeHost(t)} answered (host key verified)` });
        const problems = r.stdout.trim().split('\n').filter(Boolean);
        checks.push({
          name: 'host tools and root',
          ok: problems.length === 0,
          message:
            problems.length === 0
              ? `tar, sha256sum, base64, GNU mv present; ${cfg.root} writable`
              : problems.join('; '),
          ...(problems.length === 0
            ? {}
            : { fix: 'install coreutils and tar on the host, and make the release root writable for the deploy user' }),
        });
      } catch (e) {
        checks.push({
          name: 'ssh reachable',
          ok: false,
          message: (e as Error).message,
          fix: `check the host, the key ${cfg.identityFile}, and add the host key to ${cfg.knownHostsFile} (ssh-keyscan, reviewed)`,
        });
      }
      return { ok: checks.every((c) => c.ok), checks };
    },

    credentials: {
      requirements,
      async verify(ctx, credential): Promise<CredentialsVerification> {
        return withKey(ctx, credential, async (identityFile) => {
          const probe: HostTarget = { ...t, identityFile };
          const { controlPath: _shared, ...fresh } = probe; // never reuse a connection made with another key
          const granted: Permission[] = [];
          let subject: string | undefined;
          try {
            const r = await runRemote(
              fresh,
              'id -un; id -u; r=$1; while [ ! -e "$r" ]; do r=$(dirname "$r"); done; [ -r "$r" ] && echo read; [ -w "$r" ] && echo write',
              [cfg.root],
              { timeoutMs: 30_000 },
            );
            const [who = '', uid = '', ...rights] = r.stdout.trim().split('\n');
            subject = `${who}@${cfg.host} (uid ${uid})`;
            granted.push({ resource: `ssh:${cfg.user}@${cfg.host}`, verbs: ['exec'], scope: 'host' });
            const verbs = rights.filter((x) => x === 'read' || x === 'write');
            if (verbs.length > 0) granted.push({ resource: `file:${cfg.root}`, verbs, scope: 'host' });
            // A root login can do anything on the host: more than a deployer needs.
            if (uid === '0') granted.push({ resource: 'host', verbs: ['*'], scope: 'host' });
          } catch (e) {
            if (!(e instanceof EnvPackError && e.code === 'unavailable')) throw e;
          }
          const { missing, extra } = diffPermissions(requirements(), granted);
          return { ok: missing.length === 0 && extra.length === 0, ...(subject ? { subject } : {}), missing, extra };
        });
      },
      async bootstrap() {
        throw fail(
          'unsupported',
          'credentials mode B is not offered on plain hosts: create a deploy user that owns the release root and can run the service commands (sudoers for the restart command only), add its public key, then verify it with mode A',
        );
      },
    },

    plan: planHost,

    async apply(ctx, target) {
      await applyInstance(ctx, target);
    },

    async warm(ctx, target, budget) {
      const meta = await applyInstance(ctx, target);
      const row = (await list({ status: true })).find((r) => r.dir === instanceDir(target));
      if (row?.draining)
        throw fail('refused', `${label(target)} is draining; wait for the drain to finish, then warm it again`);
      const url = healthUrl(meta);
      const endpoint = `http://${publicHost}:${meta.port}`;
      if (row?.statusExit === 0 && (await httpHealth(url, 2_000)).ok) {
        return {
          endpoint,
          health: { passed: true, checkedAt: new Date().toISOString(), detail: `already serving at ${endpoint}` },
        };
      }
      const started = await runInstance(target, meta, cfg.instanceStart, 60_000);
      if (started.code !== 0)
        throw fail('failed', `${label(target)}: start command failed on ${describeHost(t)}: ${remoteReason(started)}`);
      let last = '';
      try {
        await waitFor(
          async () => {
            const h = await httpHealth(url, 1_000);
            last = h.detail;
            return h.ok ? true : undefined;
          },
          {
            what: `${label(target)} to pass ${url}`,
            timeoutMs: budget.timeoutMs,
            intervalMs: 100,
            pack: PACK_ID,
            ...(ctx.signal ? { signal: ctx.signal } : {}),
          },
        );
      } catch (e) {
        // A revision that never got healthy is not left running (it would look like a live worker).
        await runInstance(target, meta, cfg.instanceStop, 30_000).catch(() => undefined);
        throw new EnvPackError(
          'unhealthy',
          `${label(target)} did not pass its health gate within ${budget.timeoutMs} ms (${last}); instance stopped`,
          {
            pack: PACK_ID,
            cause: e,
          },
        );
      }
      ctx.log?.(`[${PACK_ID}] ${label(target)}: healthy at ${endpoint}`);
      return { endpoint, health: { passed: true, checkedAt: new Date().toISOString(), detail: last } };
    },

    async drain(ctx, target, budget) {
      refuseWithWeight(target, 'drain');
      const row = (await list({ status: false })).find((r) => r.dir === instanceDir(target));
      await editRoutes(target.deployment.name, target.revision.id, false);
      if (!row?.meta) return;
      await runRemote(t, 'touch -- "$1/draining"', [row.dir], { timeoutMs: 30_000 });
      // The stop command lets in-flight work finish (SIGTERM and wait, like systemd's stop); bounded by the budget.
      await runInstance(target, row.meta, cfg.instanceStop, Math.max(budget.timeoutMs, 1_000)).catch((e: unknown) => {
        ctx.log?.(
          `[${PACK_ID}] ${label(target)}: stop did not finish within ${budget.timeoutMs} ms: ${(e as Error).message}`,
        );
      });
      await runRemote(t, 'rm -f -- "$1/draining"', [row.dir], { timeoutMs: 30_000 });
      await editRoutes(target.deployment.name, target.revision.id, true);
    },

    async archive(_ctx, target) {
      refuseWithWeight(target, 'archive');
      await stopInstance(target, 30_000);
      await editRoutes(target.deployment.name, target.revision.id, true);
      const r = await runRemote(t, 'rm -rf -- "$1"', [instanceDir(target)], { timeoutMs: 30_000 });
      if (r.code !== 0)
        throw fail('failed', `${label(target)}: removing ${instanceDir(target)} failed: ${remoteReason(r)}`);
    },

    async status(ctx, scope) {
      const rows = await list({ status: true, ...(scope?.deployment ? { deployment: scope.deployment } : {}) });
      const revisions: LiveRevision[] = [];
      await Promise.all(
        rows.map(async (row) => {
          const m = row.meta;
          if (!m || (scope?.deployment !== undefined && m.deployment !== scope.deployment)) return;
          const base = { deployment: m.deployment, tenant: m.tenant, revision: m.revision };
          const endpoint = `http://${publicHost}:${m.port}`;
          // What the instance runs, re-derived: the release its symlink points at, SHA in three tiers.
          const live = resolveSourceSha({
            releaseJsonSha: row.stampSha,
            gitHead: undefined,
            dirName: row.releaseLink ? posix.basename(row.releaseLink) : undefined,
          });
          const same = live.sha !== undefined && (m.sha.startsWith(live.sha) || live.sha.startsWith(m.sha));
          const digest = same ? m.bundleDigest : bytesDigest(`git:${live.sha ?? 'unknown'}`);
          const drift = same
            ? ''
            : `; release re-pointed: runs ${live.sha ?? 'unknown'} (${live.tier}), applied ${m.sha}`;
          if (row.statusExit !== 0) {
            revisions.push({
              ...base,
              phase: 'stopped',
              bundleDigest: digest,
              detail: `not running (status exited ${row.statusExit})${drift}`,
            });
            return;
          }
          const h = await httpHealth(healthUrl(m), 1_500);
          const phase = row.draining ? 'draining' : h.ok ? 'running' : 'unhealthy';
          revisions.push({ ...base, phase, endpoint, bundleDigest: digest, detail: `${h.detail}${drift}` });
        }),
      );
      revisions.sort((a, b) => `${a.deployment}/${a.revision}`.localeCompare(`${b.deployment}/${b.revision}`));
      return { environment: ctx.environment.name, observedAt: new Date().toISOString(), revisions };
    },

    runtimeConfig: buildRuntimeConfig,

    async publishRoutes(_ctx, config) {
      const v = validate('runtime-config', config);
      if (!v.ok)
        throw fail(
          'refused',
          `runtime config for ${config.environment} is invalid, nothing published:\n${formatErrors(v.errors)}`,
        );
      const problems = routingProblems(config);
      if (problems.length > 0) {
        throw fail(
          'refused',
          `runtime config for ${config.environment} breaks the routing rules, nothing published: ${problems.join('; ')}`,
        );
      }
      const r = await runRemote(t, 'cat -- "$1" 2>/dev/null || true', [routesFile], { timeoutMs: 30_000 });
      let current: RuntimeConfig | undefined;
      try {
        current = r.stdout.trim() ? (JSON.parse(r.stdout) as RuntimeConfig) : undefined;
      } catch {
        current = undefined;
      }
      if (current && JSON.stringify(current.deployments) === JSON.stringify(config.deployments)) return; // idempotent
      // The generation only grows, even when a drain bumped it in between.
      const generation = current ? Math.max(config.generation, current.generation + 1) : config.generation;
      await writeRoutes({ ...config, generation });
    },
  };
  return pack;
}
