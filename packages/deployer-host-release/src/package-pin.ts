import { appendFile, readFile } from 'node:fs/promises';
import { contentDigest } from '@greentic/deploy-spec';
import { EnvPackError } from '@greentic/env-pack';
import { describeHost, type HostTarget, PACK_ID, remoteReason, runRemote } from './ssh-transport';

// Archetype B (seed 002 "Two deployment models"): a runtime installed as a package and selected by a pinned
// binary or symlink. The platform captures and audits it before it automates it: capture is real, promote and
// rollback are honest "not automated yet" answers until a package source is confirmed.

export interface PackagePin {
  /** Package name (dpkg), e.g. `openssh-server`. */
  readonly package: string;
  /** The binary or symlink that selects the version, e.g. `/usr/local/bin/agent`. */
  readonly binary?: string;
  /** Command printing the installed version (default `dpkg-query -W -f='${Version}' <package>`). */
  readonly versionCommand?: string;
}

export interface PackageCapture {
  readonly host: string;
  readonly package: string;
  readonly version: string | null;
  readonly binary: string | null;
  /** `readlink -f` of the binary: the file the pin really selects. */
  readonly resolvedBinary: string | null;
  readonly binarySha256: string | null;
  readonly capturedAt: string;
}

/** One line of the capture log: the capture, what changed since the previous one, and a hash chain. */
export interface PackageAuditEntry {
  readonly seq: number;
  readonly capture: PackageCapture;
  readonly changed: readonly string[];
  readonly prevHash: string | null;
  readonly hash: string;
}

const CAPTURE = `
pkg=$1; bin=$2; vcmd=$3
if [ -n "$vcmd" ]; then v=$(sh -c "$vcmd" 2>/dev/null) || v=""; else v=$(dpkg-query -W -f='\${Version}' "$pkg" 2>/dev/null) || v=""; fi
echo "version=$v"
if [ -n "$bin" ]; then
  if [ -e "$bin" ]; then r=$(readlink -f -- "$bin"); echo "resolved=$r"; echo "sha=$(sha256sum -- "$r" | cut -d' ' -f1)"; else echo "resolved="; fi
fi
`;

/**
 * Capture the installed version of a package and the file its pinned binary/symlink resolves to, and append it to a
 * hash-chained JSON-lines audit log (`auditLog`), noting what changed since the previous capture of that package
 * on that host. Read-only on the host.
 *
 * @example
 * const e = await capturePackage(host, { package: 'openssh-server', binary: '/usr/sbin/sshd' }, { auditLog: './pins.jsonl' });
 * console.log(e.capture.version, e.changed);
 */
export async function capturePackage(
  t: HostTarget,
  pin: PackagePin,
  opts: { readonly auditLog: string },
): Promise<PackageAuditEntry> {
  if (!/^[a-z0-9][a-z0-9+.-]*$/.test(pin.package)) {
    throw new EnvPackError(
      'refused',
      `package name ${JSON.stringify(pin.package)} is not a Debian package name (lowercase letters, digits, + . -)`,
      { pack: PACK_ID },
    );
  }
  const r = await runRemote(t, CAPTURE, [pin.package, pin.binary ?? '', pin.versionCommand ?? ''], {
    timeoutMs: 60_000,
  });
  if (r.code !== 0) {
    throw new EnvPackError(
      'failed',
      `capturing package ${pin.package} on ${describeHost(t)} failed: ${remoteReason(r)}`,
      { pack: PACK_ID },
    );
  }
  const kv = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) kv.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  const capture: PackageCapture = {
    host: describeHost(t),
    package: pin.package,
    version: kv.get('version') || null,
    binary: pin.binary ?? null,
    resolvedBinary: kv.get('resolved') || null,
    binarySha256: kv.get('sha') || null,
    capturedAt: new Date().toISOString(),
  };
  const entries = await readPackageAudit(opts.auditLog);
  const last = entries[entries.length - 1];
  const prev = [...entries].reverse().find((e) => e.capture.package === pin.package && e.capture.host === capture.host);
  const changed: string[] = [];
  if (prev) {
    for (const k of ['version', 'resolvedBinary', 'binarySha256'] as const) {
      if (prev.capture[k] !== capture[k]) changed.push(`${k}: ${prev.capture[k] ?? 'none'} → ${capture[k] ?? 'none'}`);
    }
  } else changed.push('first capture');
  const body = { seq: (last?.seq ?? 0) + 1, capture, changed, prevHash: last?.hash ?? null };
  const entry: PackageAuditEntry = { ...body, hash: contentDigest(body) };
  await appendFile(opts.auditLog, `${JSON.stringify(entry)}\n`, { mode: 0o600 });
  return entry;
}

/**
 * Read the capture log and check its hash chain; a removed or edited line is a `conflict` naming the line.
 *
 * @example
 * const entries = await readPackageAudit('./pins.jsonl');
 */
export async function readPackageAudit(path: string): Promise<PackageAuditEntry[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: PackageAuditEntry[] = [];
  let prevHash: string | null = null;
  for (const [i, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    const e = JSON.parse(line) as PackageAuditEntry;
    const { hash, ...body } = e;
    if (e.prevHash !== prevHash || contentDigest(body) !== hash) {
      throw new EnvPackError(
        'conflict',
        `package audit log ${path} line ${i + 1} was edited or a line before it was removed (hash chain broken)`,
        {
          pack: PACK_ID,
        },
      );
    }
    prevHash = hash;
    out.push(e);
  }
  return out;
}

/** The honest answer of the package-pin promote/rollback commands until a package source is configured. */
export interface NotAutomated {
  readonly outcome: 'not-automated';
  readonly operation: 'promote' | 'rollback';
  readonly package: string;
  readonly host: string;
  /** Why it does not act yet. */
  readonly reason: string;
  /** The steps it would take once automated, in order. */
  readonly wouldDo: readonly string[];
  readonly lines: readonly string[];
}

/**
 * Archetype B promote: not automated yet (seed 002: "intentional documented stubs until a package distribution is
 * confirmed"). Changes nothing; says what it would do.
 *
 * @example
 * const r = promotePackage(host, { package: 'agent', binary: '/usr/local/bin/agent' }, '1.4.2');
 * r.lines.forEach((l) => console.log(l)); // exit code 3 in the CLI
 */
export function promotePackage(t: HostTarget, pin: PackagePin, version: string): NotAutomated {
  return notAutomated(t, pin, 'promote', [
    `capture the installed version and pinned binary of ${pin.package} (capturePackage) as the rollback point`,
    `install ${pin.package}=${version} from the configured package source (apt-get install ${pin.package}=${version})`,
    `re-point ${pin.binary ?? 'the pinned binary'} at the ${version} binary atomically (new symlink renamed over the old)`,
    `restart ${t.service.name} (\`${t.service.restart}\`) and verify \`${t.service.status}\``,
    'on a failed verify, re-pin the captured version and restart',
  ]);
}

/**
 * Archetype B rollback: not automated yet; changes nothing; says what it would do.
 *
 * @example
 * rollbackPackage(host, { package: 'agent' }).wouldDo;
 */
export function rollbackPackage(t: HostTarget, pin: PackagePin): NotAutomated {
  return notAutomated(t, pin, 'rollback', [
    `read the last good capture of ${pin.package} on ${describeHost(t)} from the package audit log`,
    `install that version and re-point ${pin.binary ?? 'the pinned binary'} at it atomically`,
    `restart ${t.service.name} and verify \`${t.service.status}\``,
  ]);
}

function notAutomated(
  t: HostTarget,
  pin: PackagePin,
  operation: 'promote' | 'rollback',
  wouldDo: string[],
): NotAutomated {
  const reason =
    'package-pin releases are captured and audited but not automated yet: no package source is configured for this host (seed 002, Archetype B is capture-first)';
  return {
    outcome: 'not-automated',
    operation,
    package: pin.package,
    host: describeHost(t),
    reason,
    wouldDo,
    lines: [
      `[${PACK_ID}] ${operation} of package ${pin.package} on ${describeHost(t)}: NOT AUTOMATED YET — nothing was changed`,
      `  why: ${reason}`,
      '  it would:',
      ...wouldDo.map((s, i) => `    ${i + 1}. ${s}`),
    ],
  };
}
