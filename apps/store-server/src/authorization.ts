// Access control per actor + environment + action, deny by default (DESIGN.md "The store", guarantee 5).
// Pure: no I/O. The identity providers produce a `Principal`; `authorize` decides one request.

/** The coarse roles a grant can carry. */
export const ROLES = ['admin', 'operator', 'read-only'] as const;
export type Role = (typeof ROLES)[number];

/**
 * Actions are the store's audit action names (`traffic.set`, `revision.drain`, …, see VERB_ACTIONS of
 * @greentic/store-contract) plus one `<kind>.read` per kind of object. Admin-only: `token.*`, `store.*`
 * (backup, restore, integrity, retention), `audit.append-refusal` and `actor.delegate` (acting for another actor).
 */
export type Action = string;

/** Read actions, one per kind of object. */
export const READ_ACTIONS = [
  'environment.read',
  'config.read',
  'secret-ref.read',
  'credentials.read',
  'bundle.read',
  'deployment.read',
  'revision.read',
  'traffic.read',
  'audit.read',
  'token.read',
] as const;

function adminOnly(action: Action): boolean {
  return (
    action.startsWith('token.') ||
    action.startsWith('store.') ||
    action === 'audit.append-refusal' ||
    action === 'actor.delegate'
  );
}

/** What each role may do. Admin covers everything; operator every non-admin action; read-only only reads. */
const ROLE_ACTIONS: Readonly<Record<Role, (action: Action) => boolean>> = {
  admin: () => true,
  operator: (action) => !adminOnly(action),
  'read-only': (action) => action.endsWith('.read') && !adminOnly(action),
};

/** A role, optionally limited to environments matching a glob (`zain-*`); default every environment. */
export interface AccessGrant {
  readonly role: Role;
  readonly environments?: string;
}

/** An explicit rule: allow or deny the listed action globs (`traffic.*`) on environments matching a glob. */
export interface AccessRule {
  /** Default `allow` (the store keeps allow rules only; deny rules come from server configuration). */
  readonly effect?: 'allow' | 'deny';
  readonly environments: string;
  readonly actions: readonly string[];
}

/** A verified identity: who it is, how it was proven, and what it may do. */
export interface Principal {
  readonly actor: string;
  readonly via: string;
  readonly grants: readonly AccessGrant[];
  readonly rules: readonly AccessRule[];
}

/** The decision for one request. */
export type AccessDecision = { readonly allowed: true } | { readonly allowed: false; readonly reason: string };

const globCache = new Map<string, RegExp>();

/**
 * Whether `value` matches a glob where `*` stands for any run of characters (anchored, case-sensitive).
 *
 * @example
 * matchesGlob('zain-*', 'zain-prod'); // true
 */
export function matchesGlob(glob: string, value: string): boolean {
  let re = globCache.get(glob);
  if (re === undefined) {
    const body = glob
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*');
    re = new RegExp(`^${body}$`, 's');
    if (globCache.size < 1024) globCache.set(glob, re);
  }
  return re.test(value);
}

/** An environment-less action (audit, admin) is only covered by an unscoped (`*`) grant or rule. */
function coversEnvironment(glob: string | undefined, environment: string | null): boolean {
  const pattern = glob ?? '*';
  if (environment === null) return pattern === '*';
  return matchesGlob(pattern, environment);
}

/**
 * Decides whether `principal` may perform `action` on `environment` (null for environment-less actions).
 * Deny rules win; then any grant or allow rule that covers both; otherwise denied.
 *
 * @example
 * authorize({ actor: 'ci', via: 'token', grants: [{ role: 'operator', environments: 'zain-*' }], rules: [] },
 *   { environment: 'zain-prod', action: 'traffic.set' }); // { allowed: true }
 */
export function authorize(
  principal: Principal,
  request: { readonly environment: string | null; readonly action: Action },
): AccessDecision {
  const { environment, action } = request;
  const ruleCovers = (rule: AccessRule) =>
    coversEnvironment(rule.environments, environment) && rule.actions.some((glob) => matchesGlob(glob, action));
  if (principal.rules.some((rule) => rule.effect === 'deny' && ruleCovers(rule))) {
    return { allowed: false, reason: `a deny rule covers ${action} on ${environment ?? 'the store'}` };
  }
  const byGrant = principal.grants.some(
    (grant) => ROLE_ACTIONS[grant.role](action) && coversEnvironment(grant.environments, environment),
  );
  if (byGrant || principal.rules.some((rule) => rule.effect !== 'deny' && ruleCovers(rule))) return { allowed: true };
  return {
    allowed: false,
    reason: `actor ${principal.actor} has no grant for ${action} on ${environment ?? 'the store'}`,
  };
}

/**
 * Checks an untrusted grant list (from an admin request or a config file) and returns the reason it is unusable.
 *
 * @example
 * grantsProblem([{ role: 'root' }]); // 'grants[0].role must be one of admin, operator, read-only'
 */
export function grantsProblem(grants: unknown): string | undefined {
  if (!Array.isArray(grants)) return 'grants must be a list of { role, environments? }';
  for (const [i, grant] of grants.entries()) {
    if (typeof grant !== 'object' || grant === null) return `grants[${i}] must be an object { role, environments? }`;
    const { role, environments, ...rest } = grant as Record<string, unknown>;
    if (!ROLES.includes(role as Role)) return `grants[${i}].role must be one of ${ROLES.join(', ')}`;
    if (environments !== undefined && (typeof environments !== 'string' || !/^[a-z0-9*-]{1,63}$/.test(environments)))
      return `grants[${i}].environments must be an environment name or glob such as zain-*`;
    const extra = Object.keys(rest);
    if (extra.length > 0) return `grants[${i}] has unknown member ${extra[0]}`;
  }
  return undefined;
}
