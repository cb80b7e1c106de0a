import type { Permission } from '@greentic/deploy-spec';

/** Missing and extra rights between what a deployer needs and what a key holds, verb by verb. */
export interface PermissionDiff {
  readonly missing: Permission[];
  readonly extra: Permission[];
}

function key(p: Permission): string {
  return `${p.scope}\u0000${p.resource}`;
}

function group(perms: readonly Permission[]): Map<string, { p: Permission; verbs: Set<string> }> {
  const m = new Map<string, { p: Permission; verbs: Set<string> }>();
  for (const p of perms) {
    const g = m.get(key(p)) ?? { p, verbs: new Set<string>() };
    for (const v of p.verbs) g.verbs.add(v);
    m.set(key(p), g);
  }
  return m;
}

function minus(a: Map<string, { p: Permission; verbs: Set<string> }>, b: Map<string, { verbs: Set<string> }>) {
  const out: Permission[] = [];
  for (const [k, { p, verbs }] of a) {
    const other = b.get(k)?.verbs;
    // A wildcard grant covers every verb on that resource; a wildcard requirement is only met by a wildcard.
    const left = [...verbs].filter((v) => !(other?.has(v) || (other?.has('*') && v !== '*'))).sort();
    if (left.length > 0) out.push({ resource: p.resource, scope: p.scope, verbs: left });
  }
  return out.sort((x, y) => key(x).localeCompare(key(y)));
}

/**
 * Credentials mode A in both directions: which required rights a key lacks, and which rights it holds beyond
 * the requirements. A key is fit when both lists are empty.
 *
 * @example
 * diffPermissions(
 *   [{ resource: 'process', verbs: ['spawn', 'signal'], scope: 'host' }],
 *   [{ resource: 'process', verbs: ['spawn', 'ptrace'], scope: 'host' }],
 * ) // { missing: [{ resource: 'process', verbs: ['signal'], … }], extra: [{ resource: 'process', verbs: ['ptrace'], … }] }
 */
export function diffPermissions(required: readonly Permission[], granted: readonly Permission[]): PermissionDiff {
  const req = group(required);
  const got = group(granted);
  const missing = minus(req, got);
  // Extra is judged strictly: a wildcard grant is extra even when it covers a requirement.
  const extra: Permission[] = [];
  for (const [k, { p, verbs }] of got) {
    const need = req.get(k)?.verbs;
    const left = [...verbs].filter((v) => !need?.has(v)).sort();
    if (left.length > 0) extra.push({ resource: p.resource, scope: p.scope, verbs: left });
  }
  extra.sort((x, y) => key(x).localeCompare(key(y)));
  return { missing, extra };
}
