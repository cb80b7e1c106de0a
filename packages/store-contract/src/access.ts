import type { AccessRule } from './contract';

/**
 * True when an environment name matches an access rule's pattern: `*` matches any run of characters,
 * everything else is literal (`zain-*` matches `zain-prod`, not `acme-zain`).
 *
 * @example
 * matchesEnvironmentPattern('zain-*', 'zain-prod') // true
 */
export function matchesEnvironmentPattern(pattern: string, environment: string): boolean {
  const parts = pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('.*')}$`).test(environment);
}

/**
 * True when one of the rules allows `action` on `environment` (deny by default).
 *
 * @example
 * ruleAllows([{ environments: 'zain-*', actions: ['traffic.set'] }], 'zain-prod', 'traffic.set') // true
 */
export function ruleAllows(rules: readonly AccessRule[], environment: string, action: string): boolean {
  return rules.some(
    (r) =>
      matchesEnvironmentPattern(r.environments, environment) &&
      r.actions.some((a) => a === '*' || a === action || (a.endsWith('.*') && action.startsWith(a.slice(0, -1)))),
  );
}
