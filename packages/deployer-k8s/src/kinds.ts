import { EnvPackError } from '@greentic/env-pack';

/** The pack id every message of this package starts with. */
export const PACK_ID = 'greentic.deployer.k8s';

/** A Kubernetes object as this pack renders and sends it: plain data, serialisable to YAML and JSON. */
export interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly [field: string]: unknown;
}

/** One row of the closed kind table: where a kind lives in the API and which schema describes it. */
export interface KindInfo {
  readonly kind: string;
  readonly apiVersion: string;
  /** Plural resource name, as RBAC and the URL use it. */
  readonly resource: string;
  /** API group ('' for the core group). */
  readonly group: string;
  readonly namespaced: boolean;
  /** The definition name in schemas/kubernetes-definitions.json. */
  readonly definition: string;
}

// The closed table: every kind this pack renders or applies, and nothing else. An unknown kind is an error, never
// a guessed URL (seed 001, PR-5.2).
const TABLE = [
  {
    kind: 'Namespace',
    apiVersion: 'v1',
    resource: 'namespaces',
    group: '',
    namespaced: false,
    definition: 'V1Namespace',
  },
  {
    kind: 'ConfigMap',
    apiVersion: 'v1',
    resource: 'configmaps',
    group: '',
    namespaced: true,
    definition: 'V1ConfigMap',
  },
  { kind: 'Service', apiVersion: 'v1', resource: 'services', group: '', namespaced: true, definition: 'V1Service' },
  {
    kind: 'ServiceAccount',
    apiVersion: 'v1',
    resource: 'serviceaccounts',
    group: '',
    namespaced: true,
    definition: 'V1ServiceAccount',
  },
  {
    kind: 'Deployment',
    apiVersion: 'apps/v1',
    resource: 'deployments',
    group: 'apps',
    namespaced: true,
    definition: 'V1Deployment',
  },
  {
    kind: 'PodDisruptionBudget',
    apiVersion: 'policy/v1',
    resource: 'poddisruptionbudgets',
    group: 'policy',
    namespaced: true,
    definition: 'V1PodDisruptionBudget',
  },
  {
    kind: 'NetworkPolicy',
    apiVersion: 'networking.k8s.io/v1',
    resource: 'networkpolicies',
    group: 'networking.k8s.io',
    namespaced: true,
    definition: 'V1NetworkPolicy',
  },
  {
    kind: 'Role',
    apiVersion: 'rbac.authorization.k8s.io/v1',
    resource: 'roles',
    group: 'rbac.authorization.k8s.io',
    namespaced: true,
    definition: 'V1Role',
  },
  {
    kind: 'RoleBinding',
    apiVersion: 'rbac.authorization.k8s.io/v1',
    resource: 'rolebindings',
    group: 'rbac.authorization.k8s.io',
    namespaced: true,
    definition: 'V1RoleBinding',
  },
  {
    kind: 'ClusterRole',
    apiVersion: 'rbac.authorization.k8s.io/v1',
    resource: 'clusterroles',
    group: 'rbac.authorization.k8s.io',
    namespaced: false,
    definition: 'V1ClusterRole',
  },
  {
    kind: 'ClusterRoleBinding',
    apiVersion: 'rbac.authorization.k8s.io/v1',
    resource: 'clusterrolebindings',
    group: 'rbac.authorization.k8s.io',
    namespaced: false,
    definition: 'V1ClusterRoleBinding',
  },
] as const satisfies readonly KindInfo[];

/** Every kind of the closed table, in a stable order. */
export const KINDS: readonly KindInfo[] = TABLE;

/** The kinds the table knows, as a type. */
export type KnownKind = (typeof TABLE)[number]['kind'];

/**
 * The table row of `kind` at `apiVersion`; an unknown pair throws `unsupported` naming it.
 *
 * @example
 * kindInfo('Deployment', 'apps/v1').resource; // 'deployments'
 */
export function kindInfo(kind: string, apiVersion: string): KindInfo {
  const row = TABLE.find((r) => r.kind === kind && r.apiVersion === apiVersion);
  if (!row) {
    throw new EnvPackError(
      'unsupported',
      `kind ${kind} (${apiVersion}) is not in the closed kind table (${TABLE.map((r) => r.kind).join(', ')}); a new kind needs a new table row, never a guessed URL`,
      { pack: PACK_ID },
    );
  }
  return row;
}

/**
 * The API path of one object (`name` given) or of its collection, from the closed table.
 *
 * @example
 * objectPath(kindInfo('Deployment', 'apps/v1'), 'greentic-prod', 'router'); // '/apis/apps/v1/namespaces/greentic-prod/deployments/router'
 */
export function objectPath(info: KindInfo, namespace: string | undefined, name?: string): string {
  const base = info.group === '' ? '/api/v1' : `/apis/${info.apiVersion}`;
  if (info.namespaced && !namespace) {
    throw new EnvPackError('failed', `${info.kind} ${name ?? ''} is namespaced but has no namespace`, {
      pack: PACK_ID,
    });
  }
  const ns = info.namespaced ? `/namespaces/${encodeURIComponent(namespace as string)}` : '';
  const tail = name === undefined ? '' : `/${encodeURIComponent(name)}`;
  return `${base}${ns}/${info.resource}${tail}`;
}
