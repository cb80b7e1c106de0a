import type { Environment, Permission, RulesPack } from '@greentic/deploy-spec';
import { EnvPackError } from '@greentic/env-pack';
import { type K8sObject, PACK_ID } from './kinds';
import type { AccessProbe, KubeClient } from './kube-client';
import { toYaml } from './render';
import { readSettings } from './settings';

// The minimal RBAC of the deployer (seed 001, "Credentials"): what it needs inside its namespace (a Role), what a
// namespace itself needs from the cluster (a ClusterRole, stated separately), and the probes that check a key
// holds exactly that. Server-side apply has no verb of its own: it needs patch, and create for a new object.

/** One RBAC rule in the form Role/ClusterRole use. */
export interface RbacRule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
  readonly resourceNames?: readonly string[];
}

const APPLY = ['create', 'delete', 'get', 'patch'] as const;

/** The rules the deployer needs inside the environment's namespace. */
export const NAMESPACE_RULES: readonly RbacRule[] = [
  { apiGroups: [''], resources: ['configmaps', 'services'], verbs: [...APPLY] },
  // list: status reads every worker Deployment of the environment by label.
  { apiGroups: ['apps'], resources: ['deployments'], verbs: [...APPLY, 'list'] },
  { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: [...APPLY] },
  { apiGroups: ['policy'], resources: ['poddisruptionbudgets'], verbs: [...APPLY] },
];

/**
 * What a namespace itself needs from the cluster: create it (a name cannot restrict create), then read and patch only it.
 *
 * @example
 * clusterRules('greentic-demo'); // [{ resources: ['namespaces'], verbs: ['create'] }, { …, resourceNames: ['greentic-demo'] }]
 */
export function clusterRules(namespace: string): RbacRule[] {
  return [
    { apiGroups: [''], resources: ['namespaces'], verbs: ['create'] },
    { apiGroups: [''], resources: ['namespaces'], resourceNames: [namespace], verbs: ['get', 'patch'] },
  ];
}

const resourceName = (group: string, resource: string) => (group === '' ? resource : `${group}/${resource}`);

/**
 * The permissions the deployer needs in an environment, one entry per resource and scope (`credentials.requirements`).
 *
 * @example
 * requirementsFor(env); // [{ resource: 'apps/deployments', verbs: ['create', 'delete', 'get', 'list', 'patch'], scope: 'namespace' }, …]
 */
export function requirementsFor(environment: Environment): Permission[] {
  const { namespace } = readSettings(environment);
  const out = new Map<string, Permission>();
  const add = (rules: readonly RbacRule[], scope: 'namespace' | 'cluster') => {
    for (const r of rules) {
      for (const g of r.apiGroups) {
        for (const res of r.resources) {
          const key = `${scope}/${resourceName(g, res)}`;
          const verbs = new Set([...(out.get(key)?.verbs ?? []), ...r.verbs]);
          out.set(key, { resource: resourceName(g, res), scope, verbs: [...verbs].sort() });
        }
      }
    }
  };
  add(NAMESPACE_RULES, 'namespace');
  add(clusterRules(namespace), 'cluster');
  return [...out.values()].sort((a, b) => `${a.scope}/${a.resource}`.localeCompare(`${b.scope}/${b.resource}`));
}

/** A probe with the permission it stands for in a report. */
interface LabelledProbe {
  readonly probe: AccessProbe;
  readonly permission: Permission;
}

/**
 * SelfSubjectAccessReview probes for every required right (patch + create + get + delete per kind, and list).
 *
 * @example
 * for (const { probe } of requiredProbes(env)) await client.canI(probe);
 */
export function requiredProbes(environment: Environment): LabelledProbe[] {
  const { namespace } = readSettings(environment);
  const out: LabelledProbe[] = [];
  const add = (rules: readonly RbacRule[], scope: 'namespace' | 'cluster') => {
    for (const r of rules) {
      for (const group of r.apiGroups) {
        for (const resource of r.resources) {
          for (const verb of r.verbs) {
            const name = r.resourceNames?.[0];
            out.push({
              probe: {
                verb,
                group,
                resource,
                ...(scope === 'namespace' ? { namespace } : {}),
                ...(name ? { name } : {}),
              },
              permission: { resource: resourceName(group, resource), scope, verbs: [verb] },
            });
          }
        }
      }
    }
  };
  add(NAMESPACE_RULES, 'namespace');
  add(clusterRules(namespace), 'cluster');
  return out;
}

/**
 * Rights the deployer must NOT hold, probed to report "extra": each one would let a leaked deployer key read
 * secrets, escalate, leave its namespace or run code in pods.
 *
 * @example
 * forbiddenProbes(env).map((p) => p.permission.resource); // wildcard, secrets, pods/exec, …
 */
export function forbiddenProbes(environment: Environment): LabelledProbe[] {
  const { namespace } = readSettings(environment);
  const p = (probe: AccessProbe, scope: 'namespace' | 'cluster'): LabelledProbe => ({
    probe,
    permission: {
      resource: `${resourceName(probe.group, probe.resource)}${probe.subresource ? `/${probe.subresource}` : ''}${probe.name ? `:${probe.name}` : ''}${scope === 'namespace' && probe.namespace !== namespace ? `@${probe.namespace}` : ''}`,
      scope,
      verbs: [probe.verb],
    },
  });
  return [
    p({ verb: '*', group: '*', resource: '*' }, 'cluster'),
    p({ verb: 'list', group: '', resource: 'secrets' }, 'cluster'),
    p({ verb: 'get', group: '', resource: 'secrets', namespace }, 'namespace'),
    p({ verb: 'delete', group: '', resource: 'namespaces', name: 'kube-system' }, 'cluster'),
    p({ verb: 'delete', group: '', resource: 'namespaces', name: namespace }, 'cluster'),
    p({ verb: 'patch', group: '', resource: 'namespaces', name: 'kube-system' }, 'cluster'),
    p({ verb: 'create', group: 'apps', resource: 'deployments', namespace: 'kube-system' }, 'namespace'),
    p({ verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'roles', namespace }, 'namespace'),
    p({ verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'rolebindings', namespace }, 'namespace'),
    p({ verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'clusterroles' }, 'cluster'),
    p({ verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'clusterrolebindings' }, 'cluster'),
    p({ verb: 'create', group: '', resource: 'pods', subresource: 'exec', namespace }, 'namespace'),
    p({ verb: 'create', group: '', resource: 'serviceaccounts', subresource: 'token', namespace }, 'namespace'),
    p({ verb: 'impersonate', group: '', resource: 'users' }, 'cluster'),
    p({ verb: 'list', group: '', resource: 'nodes' }, 'cluster'),
  ];
}

const merge = (perms: Permission[]): Permission[] => {
  const m = new Map<string, Permission>();
  for (const p of perms) {
    const key = `${p.scope}/${p.resource}`;
    const verbs = new Set([...(m.get(key)?.verbs ?? []), ...p.verbs]);
    m.set(key, { ...p, verbs: [...verbs].sort() });
  }
  return [...m.values()].sort((a, b) => `${a.scope}/${a.resource}`.localeCompare(`${b.scope}/${b.resource}`));
};

/**
 * Mode A: ask the API server, as the key under test, about every required right and every right it must not hold.
 *
 * @example
 * const { missing, extra } = await probeRights(new KubeClient(targetFor(url, token)), env);
 */
export async function probeRights(
  client: KubeClient,
  environment: Environment,
): Promise<{ missing: Permission[]; extra: Permission[] }> {
  const missing: Permission[] = [];
  const extra: Permission[] = [];
  for (const { probe, permission } of requiredProbes(environment)) {
    if (!(await client.canI(probe))) missing.push(permission);
  }
  for (const { probe, permission } of forbiddenProbes(environment)) {
    if (await client.canI(probe)) extra.push(permission);
  }
  return { missing: merge(missing), extra: merge(extra) };
}

/** Who the rules pack grants the rights to. */
export interface RbacSubject {
  readonly kind: 'ServiceAccount' | 'User' | 'Group';
  readonly name: string;
  readonly namespace?: string;
}

/**
 * Parse `ServiceAccount:<ns>:<name>`, `User:<name>` or `Group:<name>`; default: ServiceAccount greentic-deployer in
 * the environment's namespace.
 *
 * @example
 * parseSubject('User:alice', 'greentic-demo'); // { kind: 'User', name: 'alice' }
 */
export function parseSubject(text: string | undefined, namespace: string): RbacSubject {
  if (text === undefined) return { kind: 'ServiceAccount', name: 'greentic-deployer', namespace };
  const [kind, a, b] = text.split(':');
  if (kind === 'ServiceAccount' && a && b) return { kind, name: b, namespace: a };
  if ((kind === 'User' || kind === 'Group') && a && b === undefined) return { kind, name: a };
  throw new EnvPackError(
    'refused',
    `subject ${text}: use ServiceAccount:<namespace>:<name>, User:<name> or Group:<name>`,
    {
      pack: PACK_ID,
    },
  );
}

const rbac = 'rbac.authorization.k8s.io/v1';
const toRule = (r: RbacRule) => ({
  apiGroups: [...r.apiGroups],
  resources: [...r.resources],
  verbs: [...r.verbs].sort(),
  ...(r.resourceNames ? { resourceNames: [...r.resourceNames] } : {}),
});

/**
 * The RBAC objects of the rules pack, in file order.
 *
 * @example
 * rbacObjects(env, { kind: 'User', name: 'alice' }).map((o) => o.kind); // ['Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding']
 */
export function rbacObjects(environment: Environment, subject: RbacSubject): K8sObject[] {
  const { namespace } = readSettings(environment);
  const labels = { 'app.kubernetes.io/managed-by': 'greentic', 'greentic.ai/environment': environment.name };
  const clusterName = `greentic-deployer-${namespace}`.slice(0, 253);
  const subjects = [
    subject.kind === 'ServiceAccount'
      ? { kind: 'ServiceAccount', name: subject.name, namespace: subject.namespace }
      : { apiGroup: 'rbac.authorization.k8s.io', kind: subject.kind, name: subject.name },
  ];
  const objects: K8sObject[] = [];
  if (subject.kind === 'ServiceAccount' && subject.namespace === namespace) {
    objects.push({
      apiVersion: 'v1',
      automountServiceAccountToken: false,
      kind: 'ServiceAccount',
      metadata: { labels, name: subject.name, namespace },
    });
  }
  objects.push(
    {
      apiVersion: rbac,
      kind: 'Role',
      metadata: { labels, name: 'greentic-deployer', namespace },
      rules: NAMESPACE_RULES.map(toRule),
    },
    {
      apiVersion: rbac,
      kind: 'RoleBinding',
      metadata: { labels, name: 'greentic-deployer', namespace },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'greentic-deployer' },
      subjects,
    },
    {
      apiVersion: rbac,
      kind: 'ClusterRole',
      metadata: { labels, name: clusterName },
      rules: clusterRules(namespace).map(toRule),
    },
    {
      apiVersion: rbac,
      kind: 'ClusterRoleBinding',
      metadata: { labels, name: clusterName },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterName },
      subjects,
    },
  );
  return objects;
}

/**
 * Mode B's output: the reviewable rules pack (Role + RoleBinding in the namespace, the namespace's ClusterRole +
 * binding stated separately, a README saying what each grants). Pure apart from the timestamp it is given.
 *
 * @example
 * const pack = buildRulesPack(env, { generatedAt: new Date().toISOString() });
 * for (const f of pack.files) writeFileSync(join(dir, f.path), f.content);
 */
export function buildRulesPack(
  environment: Environment,
  options: { generatedAt: string; subject?: string },
): RulesPack {
  const { namespace } = readSettings(environment);
  const subject = parseSubject(options.subject, namespace);
  const objects = rbacObjects(environment, subject);
  const fileOf = (o: K8sObject) => {
    const scope = o.kind.startsWith('Cluster') ? 'cluster' : 'namespace';
    return {
      path: `${scope}/${o.kind.toLowerCase()}-${o.metadata.name}.yaml`,
      mediaType: 'application/yaml',
      content: toYaml(o),
    };
  };
  const who =
    subject.kind === 'ServiceAccount'
      ? `ServiceAccount ${subject.namespace}/${subject.name}`
      : `${subject.kind} ${subject.name}`;
  const readme = [
    `# RBAC for ${PACK_ID} in environment ${environment.name}`,
    '',
    `Grants ${who} exactly what the deployer needs, nothing more. Review, then apply with`,
    '`kubectl apply -f cluster/ && kubectl apply -f namespace/` (the namespace files need the namespace to exist;',
    `the deployer creates it with the cluster rights, or create it yourself: \`kubectl create namespace ${namespace}\`).`,
    '',
    `- namespace/ (Role in ${namespace}): server-side apply needs patch, and create for a new object; get and list`,
    '  read the live state back (status, drift); delete archives retired revisions.',
    ...NAMESPACE_RULES.map(
      (r) =>
        `  - ${r.resources.map((x) => resourceName(r.apiGroups[0] ?? '', x)).join(', ')}: ${[...r.verbs].sort().join(', ')}`,
    ),
    `- cluster/ (ClusterRole): create namespaces (Kubernetes cannot restrict create by name), get and patch only ${namespace}.`,
    '',
    'Not granted, and reported as "extra" by `credentials verify` if a key holds them: secrets, pods/exec,',
    'serviceaccounts/token, RBAC objects, impersonation, nodes, other namespaces, and any wildcard.',
    '',
  ].join('\n');
  return {
    environment: environment.name,
    files: [...objects.map(fileOf), { path: 'README.md', mediaType: 'text/markdown', content: readme }],
    generatedAt: options.generatedAt,
    pack: PACK_ID,
    permissions: requirementsFor(environment),
  };
}
