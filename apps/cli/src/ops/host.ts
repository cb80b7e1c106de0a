import { join, resolve } from 'node:path';
import type {
  HostTarget,
  NotAutomated,
  PackageAuditEntry,
  PackagePin,
  PruneOptions,
  PruneResult,
} from '@greentic/deployer-host-release';
import type { CommandIO } from '../base-command';
import { CliError } from '../cli-error';
import { EXIT_CODES } from '../exit-codes';
import type { Session } from '../session';
import { explainConflict } from './common';
import { packModule } from './pack-module';

const PACK = 'greentic.deployer.host-release';
/** Where the store keeps the recorded truth of a host (non-secret JSON in the environment's config). */
const TRUTH_KEY = 'host-release.truth';
/** The store record of a package pin (archetype B): `host-release.pkg.<package>`, see {@link packageRecordKey}. */
const PACKAGE_KEY_PREFIX = 'host-release.pkg.';
/** The hash-chained capture log of package pins, in the pack's state folder of the environment. */
const PACKAGE_LOG = 'packages.jsonl';

type Fn = (...args: never[]) => Promise<unknown>;
interface HostApi {
  promote: Fn;
  rollback: Fn;
  hostStatus: Fn;
  smoke: Fn;
  parseHostDeployerConfig: (c: unknown) => Record<string, unknown>;
  hostTargetFromConfig: (c: unknown) => unknown;
  closeHostConnection: (t: unknown) => Promise<void>;
  pruneReleases: (t: HostTarget, opts: PruneOptions) => Promise<PruneResult>;
  capturePackage: (t: HostTarget, pin: PackagePin, opts: { auditLog: string }) => Promise<PackageAuditEntry>;
  readPackageAudit: (path: string) => Promise<PackageAuditEntry[]>;
  promotePackage: (t: HostTarget, pin: PackagePin, version: string) => NotAutomated;
  rollbackPackage: (t: HostTarget, pin: PackagePin) => NotAutomated;
}

interface Bound {
  readonly s: Session;
  readonly api: HostApi;
  readonly target: unknown;
  readonly config: Record<string, unknown>;
}

/** The host target of the environment, from its deployer config, and the host-release package's functions. */
async function bind(io: CommandIO): Promise<Bound> {
  const s = await io.session();
  const env = await s.environment(io.environment, io.key);
  const deployer = env.value.slots.deployer;
  if (deployer?.id !== PACK) {
    throw new CliError(
      'usage',
      `environment ${io.environment} is deployed by ${deployer?.id ?? 'nothing'}; host commands need ${PACK}`,
      {
        code: 'unsupported',
        hint: `attach it with its host settings: gtc op env-packs attach ${PACK} --env ${io.environment} --config host=… --config user=… --config root=…`,
      },
    );
  }
  if (!s.registry.has(PACK)) {
    throw new CliError('not-found', `${PACK} is not installed here`, {
      code: 'unknown-pack',
      hint: 'install @greentic/deployer-host-release',
    });
  }
  const api = (await packModule(s.registry, PACK))?.mod as unknown as HostApi;
  let config: Record<string, unknown>;
  try {
    config = api.parseHostDeployerConfig(deployer.config ?? {});
  } catch (e) {
    throw new CliError('usage', `the ${PACK} config of ${io.environment} is incomplete: ${(e as Error).message}`, {
      code: 'invalid',
      hint: `set it with: gtc op env-packs attach ${PACK} --env ${io.environment} --config key=value …`,
      cause: e,
    });
  }
  return { s, api, config, target: api.hostTargetFromConfig(config) };
}

async function withHost<T>(io: CommandIO, work: (b: Bound) => Promise<T>): Promise<T> {
  const b = await bind(io);
  try {
    return await work(b);
  } finally {
    await b.api.closeHostConnection(b.target).catch(() => undefined);
  }
}

async function recordTruth(io: CommandIO, s: Session, truth: unknown, step: string): Promise<void> {
  if (truth) await recordJson(io, s, TRUTH_KEY, truth, step);
}

/** Keep `value` as JSON under `key` in the environment's config; the store audits the change (`config.set`). */
async function recordJson(io: CommandIO, s: Session, key: string, value: unknown, step: string): Promise<void> {
  const c = await s.store.getConfig(io.environment);
  const text = JSON.stringify(value);
  if (c.value[key] === text) return;
  await explainConflict(`the config of ${io.environment}`, 'the same gtc op host command', () =>
    s.store.setConfig(io.environment, { ...c.value, [key]: text }, s.mutation(io.key(step), c.version)),
  );
}

function print(io: CommandIO, result: { lines?: readonly string[] }): void {
  if (io.json) io.out.json(result);
  else for (const l of result.lines ?? []) io.out.line(l);
}

export interface PromoteInput {
  readonly label: string;
  readonly worktree: string | undefined;
  readonly ref: string | undefined;
  readonly apply: boolean;
  readonly keep: number | undefined;
}

export async function promoteOnHost(io: CommandIO, input: PromoteInput): Promise<number> {
  return withHost(io, async ({ s, api, target, config }) => {
    const worktree = resolve(io.cwd, input.worktree ?? (typeof config.worktree === 'string' ? config.worktree : '.'));
    const r = (await api.promote(
      target as never,
      {
        worktree,
        label: input.label,
        promoter: s.actor,
        apply: input.apply,
        ...(input.ref ? { ref: input.ref } : {}),
        ...(input.keep !== undefined ? { keepReleases: input.keep } : {}),
        ...(io.json ? {} : { log: (l: string) => io.out.note(l) }),
      } as never,
    )) as { outcome: string; lines: string[]; truth?: unknown; reason?: string };
    if (input.apply) await recordTruth(io, s, r.truth, 'host.promote.truth');
    print(io, r);
    if (r.outcome === 'rolled-back') {
      io.out.note(
        `[gtc] the new release did not verify (${r.reason ?? 'see above'}); the previous one is current again`,
      );
      return 7;
    }
    return r.outcome === 'failed' ? 1 : 0;
  });
}

export async function rollbackOnHost(
  io: CommandIO,
  input: { to: string | undefined; apply: boolean },
): Promise<number> {
  return withHost(io, async ({ s, api, target }) => {
    const r = (await api.rollback(
      target as never,
      {
        apply: input.apply,
        ...(input.to ? { to: input.to } : {}),
        ...(io.json ? {} : { log: (l: string) => io.out.note(l) }),
      } as never,
    )) as { outcome: string; lines: string[]; truth?: unknown };
    if (input.apply) await recordTruth(io, s, r.truth, 'host.rollback.truth');
    print(io, r);
    return r.outcome === 'reverted' ? 7 : r.outcome === 'failed' ? 1 : 0;
  });
}

export async function statusOfHost(io: CommandIO, update: boolean): Promise<number> {
  return withHost(io, async ({ s, api, target }) => {
    const c = await s.store.getConfig(io.environment);
    const recorded = typeof c.value[TRUTH_KEY] === 'string' ? JSON.parse(c.value[TRUTH_KEY]) : undefined;
    const r = (await api.hostStatus(
      target as never,
      {
        ...(recorded ? { expected: recorded } : {}),
        update,
      } as never,
    )) as { drift: unknown[]; lines: string[]; live: unknown };
    if (update) await recordTruth(io, s, r.live, 'host.status.update');
    print(io, r);
    return r.drift.length > 0 && !update ? 7 : 0;
  });
}

export async function smokeHost(io: CommandIO, sha: string | undefined): Promise<number> {
  return withHost(io, async ({ api, target }) => {
    const r = (await api.smoke(target as never, (sha ? { expectSha: sha } : {}) as never)) as {
      ok: boolean;
      lines: string[];
    };
    print(io, r);
    return r.ok ? 0 : 7;
  });
}

export async function pruneHost(io: CommandIO, input: { keep: number | undefined; apply: boolean }): Promise<number> {
  return withHost(io, async ({ api, target }) => {
    const r = await api.pruneReleases(target as HostTarget, {
      apply: input.apply,
      ...(input.keep !== undefined ? { keep: input.keep } : {}),
    });
    print(io, r);
    if (io.json) return 0;
    if (r.remove.length === 0) io.out.note(`[gtc] nothing to remove on ${r.host}`);
    else if (!input.apply) {
      const keep = input.keep !== undefined ? ` --keep ${input.keep}` : '';
      const n = `${r.remove.length} path${r.remove.length === 1 ? '' : 's'}`;
      io.out.note(
        `[gtc] dry run: nothing was removed from ${r.host}; to remove the ${n} listed: gtc op host prune --env ${io.environment}${keep} --apply`,
      );
    }
    return 0;
  });
}

/**
 * The config key that records a package pin. Debian names may hold `+`, config keys may not; `_` never occurs in a
 * Debian name, so the mapping stays one-to-one.
 */
export function packageRecordKey(pkg: string): string {
  return `${PACKAGE_KEY_PREFIX}${pkg.replaceAll('+', '_')}`;
}

/** The environment's hash-chained capture log of package pins. */
function packageLog(s: Session, environment: string): string {
  return join(s.stateDir(environment, PACK), PACKAGE_LOG);
}

export interface PackagePinInput {
  readonly package: string;
  readonly binary: string | undefined;
  readonly versionCommand?: string | undefined;
}

function pinOf(input: PackagePinInput): PackagePin {
  return {
    package: input.package,
    ...(input.binary ? { binary: input.binary } : {}),
    ...(input.versionCommand ? { versionCommand: input.versionCommand } : {}),
  };
}

/** What `gtc op host pkg capture --json` prints. */
export interface PackageCaptureReport {
  readonly environment: string;
  /** The store config key the capture is recorded under. */
  readonly recordKey: string;
  /** The local hash-chained capture log it was appended to. */
  readonly auditLog: string;
  readonly entry: PackageAuditEntry;
  readonly lines: readonly string[];
}

export async function capturePackageOnHost(io: CommandIO, input: PackagePinInput): Promise<number> {
  return withHost(io, async ({ s, api, target }) => {
    const auditLog = packageLog(s, io.environment);
    const entry = await api.capturePackage(target as HostTarget, pinOf(input), { auditLog });
    const c = entry.capture;
    const recordKey = packageRecordKey(input.package);
    // The store keeps the latest capture (the truth other operators and the future promote read); the store's audit
    // keeps every one of them, the local log keeps them hash-chained with what changed.
    await recordJson(io, s, recordKey, { ...c, seq: entry.seq, hash: entry.hash }, 'host.pkg.capture');
    const binary = c.binary
      ? `${c.binary} → ${c.resolvedBinary ?? 'missing'}${c.binarySha256 ? ` (sha256 ${c.binarySha256})` : ''}`
      : '(none given: --binary)';
    const lines = [
      `[gtc] package ${c.package} on ${c.host} (read-only capture, nothing on the host changed)`,
      `  version:   ${c.version ?? 'not installed'}`,
      `  binary:    ${binary}`,
      `  changed:   ${entry.changed.join('; ')}`,
      `  recorded:  capture #${entry.seq} in ${auditLog}; store config ${recordKey} of ${io.environment}`,
    ];
    const report: PackageCaptureReport = { environment: io.environment, recordKey, auditLog, entry, lines };
    print(io, report);
    const missing = [
      ...(c.version === null
        ? [
            `package ${c.package} is not installed on ${c.host} (${input.versionCommand ? `\`${input.versionCommand}\`` : 'dpkg-query'} printed no version)`,
          ]
        : []),
      ...(c.binary && c.resolvedBinary === null ? [`binary ${c.binary} does not exist on ${c.host}`] : []),
    ];
    if (missing.length === 0) return 0;
    if (!io.json) {
      io.out.note(`[gtc] ${missing.join('; ')}; recorded as such (capture #${entry.seq})`);
      io.out.note(
        `next:  check the name and path on the host, or pass --version-command for a runtime dpkg does not know`,
      );
    }
    return EXIT_CODES['not-found'];
  });
}

/** What `gtc op host pkg promote|rollback --json` prints: the package's answer plus what has been captured. */
export interface PackageNotAutomatedReport extends NotAutomated {
  readonly environment: string;
  /** The newest capture of this package on this host in the local capture log, if any. */
  readonly lastCapture: PackageAuditEntry | null;
  readonly next: string;
}

export async function packageNotAutomated(
  io: CommandIO,
  input: PackagePinInput & { operation: 'promote' | 'rollback'; version?: string },
): Promise<number> {
  return withHost(io, async ({ s, api, target }) => {
    const pin = pinOf(input);
    const t = target as HostTarget;
    const r =
      input.operation === 'promote' ? api.promotePackage(t, pin, input.version ?? '') : api.rollbackPackage(t, pin);
    const auditLog = packageLog(s, io.environment);
    // Reading the log also checks its hash chain: a forged capture is refused here, not acted on later.
    const captures = (await api.readPackageAudit(auditLog)).filter(
      (e) => e.capture.package === pin.package && e.capture.host === r.host,
    );
    const last = captures.at(-1) ?? null;
    const capture = `gtc op host pkg capture --env ${io.environment} --package ${pin.package}${pin.binary ? ` --binary ${pin.binary}` : ''}`;
    const next = `nothing was changed; capture the pin first (${capture}), carry out the steps above by hand, then capture again to record the result`;
    const lines = [
      ...r.lines,
      last
        ? `  last capture: version ${last.capture.version ?? 'not installed'}${last.capture.resolvedBinary ? `, binary → ${last.capture.resolvedBinary}` : ''} (#${last.seq}, ${last.capture.capturedAt}, ${auditLog})`
        : `  last capture: none of ${pin.package} on ${r.host} in ${auditLog}`,
    ];
    const report: PackageNotAutomatedReport = { ...r, lines, environment: io.environment, lastCapture: last, next };
    print(io, report);
    if (!io.json) io.out.note(`next:  ${next}`);
    // Family not-found, code not-automated: what the operation needs (a configured package source) does not exist
    // yet. Non-zero so that no script takes it for a promotion; the package documents exit 3 for it.
    return EXIT_CODES['not-found'];
  });
}
