import { createHash } from 'node:crypto';
import type { RevisionState, RuntimeConfig } from '@greentic/deploy-spec';
import {
  buildRuntimeConfig,
  type DesiredState,
  EnvPackError,
  type LiveRevision,
  type LiveStatus,
  type RenderedFile,
  type RevisionTarget,
} from '@greentic/env-pack';
import { stringify } from 'yaml';
import { type K8sObject, PACK_ID } from './kinds';
import { checkPodSecurity } from './pod-security';
import { type K8sSettings, readSettings } from './settings';

// Render is pure: the same desired state gives byte-identical YAML (sorted keys, sorted objects, no clocks, no
// randomness). Shapes follow DESIGN.md "Deployers / k8s" and issue 8 "Render".

/** The first line of every file this pack writes; `renderToFolder` recognises its own files by it. */
export const GENERATED_MARKER = `# generated-by: ${PACK_ID}`;
/** Revision states that have a running worker. */
export const RUNNING_STATES: readonly RevisionState[] = ['warming', 'ready', 'draining'];
/** Name of the router's runtime-config ConfigMap and of the file inside it. */
export const RUNTIME_CONFIG_MAP = 'greentic-runtime-config';
export const RUNTIME_CONFIG_FILE = 'runtime-config.json';
/** Folder the router reads its runtime config from (the ConfigMap is mounted there, never with subPath). */
export const RUNTIME_CONFIG_DIR = '/etc/greentic/runtime';
export const ROUTER_NAME = 'greentic-router';

export const LABELS = {
  managedBy: 'app.kubernetes.io/managed-by',
  component: 'app.kubernetes.io/component',
  environment: 'greentic.ai/environment',
  tenant: 'greentic.ai/tenant',
  deployment: 'greentic.ai/deployment',
  revision: 'greentic.ai/revision',
} as const;
const MANAGED_BY = 'greentic';

export interface RenderOptions {
  /** Generation written into the rendered runtime config (default 0; `publishRoutes` writes the live one). */
  readonly generation?: number;
}

const shortHash = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 8);

/**
 * The object name of a revision's worker (Deployment and Service): `w-<deployment>-<revision>-<hash>`, cut to
 * 63 characters. The hash of `deployment/revision` keeps `a-b`/`c` and `a`/`b-c` apart.
 *
 * @example
 * workerName('support', 'r7'); // 'w-support-r7-1b0e3c8a' (hash varies)
 */
export function workerName(deployment: string, revision: string): string {
  const hash = shortHash(`${deployment}/${revision}`);
  const room = 63 - 'w-'.length - hash.length - 2;
  const dep = deployment.slice(0, Math.max(1, room - Math.min(revision.length, Math.floor(room / 2))));
  const rev = revision.slice(0, room - dep.length);
  return `w-${dep}-${rev}-${hash}`.replace(/-+/g, '-');
}

/**
 * The in-cluster URL the router uses to reach a revision's worker Service.
 *
 * @example
 * workerEndpoint(readSettings(env), 'support', 'r1'); // 'http://w-support-r1-….greentic-demo.svc:8080'
 */
export function workerEndpoint(settings: K8sSettings, deployment: string, revision: string): string {
  return `http://${workerName(deployment, revision)}.${settings.namespace}.svc:${settings.port}`;
}

function podSecurityContext(s: K8sSettings) {
  return {
    fsGroup: s.runAsUser,
    runAsGroup: s.runAsUser,
    runAsNonRoot: true,
    runAsUser: s.runAsUser,
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

function containerSecurityContext(s: K8sSettings) {
  return {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    privileged: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    runAsUser: s.runAsUser,
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

function probes(healthPath: string) {
  const httpGet = { path: healthPath, port: 'http' };
  return {
    livenessProbe: { failureThreshold: 3, httpGet, periodSeconds: 10, timeoutSeconds: 2 },
    readinessProbe: { failureThreshold: 3, httpGet, periodSeconds: 5, timeoutSeconds: 2 },
    startupProbe: { failureThreshold: 30, httpGet, periodSeconds: 2, timeoutSeconds: 2 },
  };
}

function resources(s: K8sSettings) {
  return { limits: { memory: s.memoryLimit }, requests: { cpu: s.cpuRequest, memory: s.memoryRequest } };
}

const TMP_VOLUME = { emptyDir: { sizeLimit: '64Mi' }, name: 'tmp' };
const TMP_MOUNT = { mountPath: '/tmp', name: 'tmp' };

function baseLabels(envName: string, component: string): Record<string, string> {
  return { [LABELS.component]: component, [LABELS.environment]: envName, [LABELS.managedBy]: MANAGED_BY };
}

function workerLabels(envName: string, t: RevisionTarget): Record<string, string> {
  return {
    ...baseLabels(envName, 'worker'),
    [LABELS.deployment]: t.deployment.name,
    [LABELS.revision]: t.revision.id,
    [LABELS.tenant]: t.deployment.tenant,
  };
}

/** The worker Deployment of one running revision. */
function workerDeployment(envName: string, s: K8sSettings, t: RevisionTarget): K8sObject {
  const name = workerName(t.deployment.name, t.revision.id);
  const image = t.bundle.launch?.image ?? s.workerImage;
  if (!image) {
    throw new EnvPackError(
      'refused',
      `revision ${t.revision.id} of ${envName}/${t.deployment.name}: no container image; set launch.image in bundle ${t.bundle.id} or workerImage in slots.deployer.config`,
      { pack: PACK_ID },
    );
  }
  const labels = workerLabels(envName, t);
  // Identity reaches the worker as environment variables (seed 001, "one worker per revision").
  const identity: Record<string, string> = {
    GREENTIC_BILLING_CUSTOMER: t.deployment.billingCustomer,
    GREENTIC_BUNDLE_DIGEST: t.bundle.digest,
    GREENTIC_BUNDLE_ID: t.bundle.id,
    GREENTIC_BUNDLE_VERSION: t.bundle.version,
    GREENTIC_DEPLOYMENT: t.deployment.name,
    GREENTIC_ENVIRONMENT: envName,
    GREENTIC_REVISION: t.revision.id,
    GREENTIC_TENANT: t.deployment.tenant,
    PORT: String(s.port),
  };
  const container = {
    ...(t.bundle.launch?.command ? { command: [...t.bundle.launch.command] } : {}),
    env: Object.keys(identity)
      .sort()
      .map((k) => ({ name: k, value: identity[k] })),
    image,
    imagePullPolicy: 'IfNotPresent',
    name: 'worker',
    ports: [{ containerPort: s.port, name: 'http', protocol: 'TCP' }],
    ...probes(t.bundle.launch?.healthPath ?? '/healthz'),
    resources: resources(s),
    securityContext: containerSecurityContext(s),
    volumeMounts: [TMP_MOUNT],
  };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      annotations: { 'greentic.ai/bundle-digest': t.bundle.digest },
      labels,
      name,
      namespace: s.namespace,
    },
    spec: {
      replicas: s.workerReplicas,
      revisionHistoryLimit: 2,
      selector: {
        matchLabels: {
          [LABELS.component]: 'worker',
          [LABELS.deployment]: t.deployment.name,
          [LABELS.revision]: t.revision.id,
        },
      },
      strategy: { rollingUpdate: { maxSurge: 1, maxUnavailable: 0 }, type: 'RollingUpdate' },
      template: {
        metadata: { labels },
        spec: {
          automountServiceAccountToken: false,
          containers: [container],
          enableServiceLinks: false,
          securityContext: podSecurityContext(s),
          terminationGracePeriodSeconds: 30,
          volumes: [TMP_VOLUME],
        },
      },
    },
  };
}

function service(
  s: K8sSettings,
  name: string,
  labels: Record<string, string>,
  selector: Record<string, string>,
  port: number,
): K8sObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { labels, name, namespace: s.namespace },
    spec: {
      ports: [{ name: 'http', port, protocol: 'TCP', targetPort: 'http' }],
      selector,
      type: 'ClusterIP',
    },
  };
}

/**
 * The router's runtime config for a desired state, as the router would see it once every ready and draining revision
 * runs behind `endpointOf(target)` (a revision with no endpoint is left out). Pure; the routing rules are env-pack's
 * `buildRuntimeConfig`, the same the live `runtimeConfig` uses, so render and cluster cannot disagree.
 *
 * @example
 * const rc = routesFor(desired, (t) => workerEndpoint(settings, t.deployment.name, t.revision.id), 3);
 */
export function routesFor(
  desired: DesiredState,
  endpointOf: (t: RevisionTarget) => string | undefined,
  generation: number,
): RuntimeConfig {
  const revisions: LiveRevision[] = [];
  for (const t of desired.targets) {
    const state = t.revision.state;
    if (state !== 'ready' && state !== 'draining') continue;
    const endpoint = endpointOf(t);
    if (endpoint === undefined) continue;
    revisions.push({
      deployment: t.deployment.name,
      endpoint,
      phase: state === 'ready' ? 'running' : 'draining',
      revision: t.revision.id,
      tenant: t.deployment.tenant,
    });
  }
  const live: LiveStatus = { environment: desired.environment.name, observedAt: '1970-01-01T00:00:00Z', revisions };
  return buildRuntimeConfig(desired, live, generation);
}

/**
 * The runtime-config ConfigMap holding `config` (pretty JSON), as `publishRoutes` applies it.
 *
 * @example
 * await client.apply(runtimeConfigMap(readSettings(env), config));
 */
export function runtimeConfigMap(settings: K8sSettings, config: RuntimeConfig): K8sObject {
  return {
    apiVersion: 'v1',
    data: { [RUNTIME_CONFIG_FILE]: `${JSON.stringify(config, null, 2)}\n` },
    kind: 'ConfigMap',
    metadata: {
      labels: baseLabels(config.environment, 'router'),
      name: RUNTIME_CONFIG_MAP,
      namespace: settings.namespace,
    },
  };
}

function routerObjects(envName: string, s: K8sSettings): K8sObject[] {
  const labels = baseLabels(envName, 'router');
  const selector = { [LABELS.component]: 'router', [LABELS.environment]: envName };
  const container = {
    env: [
      { name: 'GREENTIC_ENVIRONMENT', value: envName },
      { name: 'GREENTIC_RUNTIME_CONFIG', value: `${RUNTIME_CONFIG_DIR}/${RUNTIME_CONFIG_FILE}` },
      { name: 'PORT', value: String(s.port) },
    ],
    image: s.routerImage,
    imagePullPolicy: 'IfNotPresent',
    name: 'router',
    ports: [{ containerPort: s.port, name: 'http', protocol: 'TCP' }],
    ...probes('/healthz'),
    resources: resources(s),
    securityContext: containerSecurityContext(s),
    // Mounted as a folder, never with subPath: a subPath mount never sees ConfigMap updates, a folder does.
    volumeMounts: [{ mountPath: RUNTIME_CONFIG_DIR, name: 'runtime-config', readOnly: true }, TMP_MOUNT],
  };
  const deployment: K8sObject = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { labels, name: ROUTER_NAME, namespace: s.namespace },
    spec: {
      replicas: s.routerReplicas,
      revisionHistoryLimit: 2,
      selector: { matchLabels: selector },
      strategy: { rollingUpdate: { maxSurge: 1, maxUnavailable: 0 }, type: 'RollingUpdate' },
      template: {
        metadata: { labels },
        spec: {
          automountServiceAccountToken: false,
          containers: [container],
          enableServiceLinks: false,
          securityContext: podSecurityContext(s),
          terminationGracePeriodSeconds: 30,
          // Soft spread: prefer one router per node, but never refuse to schedule on a one-node cluster.
          topologySpreadConstraints: [
            {
              labelSelector: { matchLabels: selector },
              maxSkew: 1,
              topologyKey: 'kubernetes.io/hostname',
              whenUnsatisfiable: 'ScheduleAnyway',
            },
          ],
          volumes: [{ configMap: { name: RUNTIME_CONFIG_MAP }, name: 'runtime-config' }, TMP_VOLUME],
        },
      },
    },
  };
  const pdb: K8sObject = {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { labels, name: ROUTER_NAME, namespace: s.namespace },
    spec: { maxUnavailable: 1, selector: { matchLabels: selector }, unhealthyPodEvictionPolicy: 'AlwaysAllow' },
  };
  return [deployment, pdb, service(s, ROUTER_NAME, labels, selector, 80)];
}

function networkPolicies(envName: string, s: K8sSettings): K8sObject[] {
  const labels = baseLabels(envName, 'network');
  const router = { matchLabels: { [LABELS.component]: 'router', [LABELS.environment]: envName } };
  const workers = { matchLabels: { [LABELS.component]: 'worker', [LABELS.environment]: envName } };
  const port = [{ port: s.port, protocol: 'TCP' }];
  const np = (name: string, spec: Record<string, unknown>): K8sObject => ({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { labels, name, namespace: s.namespace },
    spec,
  });
  return [
    np('default-deny', { podSelector: {}, policyTypes: ['Egress', 'Ingress'] }),
    np('allow-dns-egress', {
      egress: [
        {
          ports: [
            { port: 53, protocol: 'TCP' },
            { port: 53, protocol: 'UDP' },
          ],
          to: [
            {
              namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
              podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
            },
          ],
        },
      ],
      podSelector: {},
      policyTypes: ['Egress'],
    }),
    np('allow-router-from-ingress', {
      ingress: [
        {
          from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': s.ingressNamespace } } }],
          ports: port,
        },
      ],
      podSelector: router,
      policyTypes: ['Ingress'],
    }),
    np('allow-router-to-workers', {
      egress: [{ ports: port, to: [{ podSelector: workers }] }],
      podSelector: router,
      policyTypes: ['Egress'],
    }),
    np('allow-workers-from-router', {
      ingress: [{ from: [{ podSelector: router }], ports: port }],
      podSelector: workers,
      policyTypes: ['Ingress'],
    }),
  ];
}

/**
 * The worker objects of one revision (Deployment, Service), as `renderObjects` would give them, with `replicas`
 * overriding the configured count (0 = materialised but not serving, as `apply` and `drain` leave it).
 *
 * @example
 * const [deployment, service] = renderWorkerObjects(env, target, { replicas: 0 });
 */
export function renderWorkerObjects(
  environment: DesiredState['environment'],
  target: RevisionTarget,
  options: { readonly replicas?: number } = {},
): [K8sObject, K8sObject] {
  const s = readSettings(environment);
  const settings = options.replicas === undefined ? s : { ...s, workerReplicas: options.replicas };
  const name = workerName(target.deployment.name, target.revision.id);
  return [
    workerDeployment(environment.name, settings, target),
    service(
      settings,
      name,
      workerLabels(environment.name, target),
      {
        [LABELS.component]: 'worker',
        [LABELS.deployment]: target.deployment.name,
        [LABELS.revision]: target.revision.id,
      },
      settings.port,
    ),
  ];
}

const KIND_ORDER = ['Namespace', 'ConfigMap', 'Service', 'Deployment', 'PodDisruptionBudget', 'NetworkPolicy'];

/**
 * Every Kubernetes object of an environment, in a stable order (kind, then name). Pure. Every pod template is
 * checked against Pod Security "restricted" before it is returned; a failure is a bug and throws `failed`.
 *
 * @example
 * const objects = renderObjects(desired); // Namespace, ConfigMap, Services, Deployments, PDB, NetworkPolicies
 */
export function renderObjects(desired: DesiredState, options: RenderOptions = {}): K8sObject[] {
  const env = desired.environment;
  const s = readSettings(env);
  const namespace: K8sObject = {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      labels: {
        ...baseLabels(env.name, 'namespace'),
        // Pod Security admission enforces what render already guarantees (seed 001, "Restricted").
        'pod-security.kubernetes.io/audit': 'restricted',
        'pod-security.kubernetes.io/audit-version': 'v1.37',
        'pod-security.kubernetes.io/enforce': 'restricted',
        'pod-security.kubernetes.io/enforce-version': 'v1.37',
        'pod-security.kubernetes.io/warn': 'restricted',
        'pod-security.kubernetes.io/warn-version': 'v1.37',
      },
      name: s.namespace,
    },
  };
  const tenants = new Map<string, string>();
  for (const t of desired.targets) {
    const other = tenants.get(t.deployment.name);
    if (other !== undefined && other !== t.deployment.tenant) {
      throw new EnvPackError(
        'refused',
        `environment ${env.name}: deployment ${t.deployment.name} is listed under tenants ${other} and ${t.deployment.tenant}; a deployment belongs to one tenant`,
        { pack: PACK_ID },
      );
    }
    tenants.set(t.deployment.name, t.deployment.tenant);
  }
  const running = desired.targets.filter((t) => RUNNING_STATES.includes(t.revision.state));
  const seen = new Map<string, string>();
  const workers: K8sObject[] = [];
  for (const t of running) {
    const name = workerName(t.deployment.name, t.revision.id);
    const key = `${t.deployment.name}/${t.revision.id}`;
    const other = seen.get(name);
    if (other !== undefined) {
      throw new EnvPackError(
        'refused',
        `environment ${env.name}: revision ${key} is listed twice (or collides with ${other})`,
        {
          pack: PACK_ID,
        },
      );
    }
    seen.set(name, key);
    workers.push(
      workerDeployment(env.name, s, t),
      service(
        s,
        name,
        workerLabels(env.name, t),
        {
          [LABELS.component]: 'worker',
          [LABELS.deployment]: t.deployment.name,
          [LABELS.revision]: t.revision.id,
        },
        s.port,
      ),
    );
  }
  const config = routesFor(
    desired,
    (t) => workerEndpoint(s, t.deployment.name, t.revision.id),
    options.generation ?? 0,
  );
  const objects = [
    namespace,
    runtimeConfigMap(s, config),
    ...routerObjects(env.name, s),
    ...workers,
    ...networkPolicies(env.name, s),
  ];
  for (const o of objects) {
    if (o.kind !== 'Deployment') continue;
    const template = (o.spec as { template: unknown }).template;
    const report = checkPodSecurity(template, 'restricted');
    if (!report.allowed) {
      throw new EnvPackError(
        'failed',
        `Deployment ${o.metadata.name} breaks Pod Security restricted: ${report.violations.map((v) => v.message).join('; ')}`,
        {
          pack: PACK_ID,
        },
      );
    }
  }
  return objects.sort((a, b) => {
    const k = KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind);
    if (k !== 0) return k;
    return a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
  });
}

/** The file name of an object inside a rendered folder: `<kind>-<name>.yaml`, lowercase. */
export function fileNameOf(o: K8sObject): string {
  return `${o.kind.toLowerCase()}-${o.metadata.name}.yaml`;
}

/**
 * One object as YAML: the marker line, then the object with every map's keys sorted.
 *
 * @example
 * toYaml(namespace).startsWith('# generated-by: greentic.deployer.k8s'); // true
 */
export function toYaml(o: K8sObject): string {
  return `${GENERATED_MARKER}\n${fastYaml(o) ?? libraryYaml(o)}`;
}

const YAML_OPTIONS = { sortMapEntries: true, lineWidth: 0, aliasDuplicateObjects: false } as const;

/** The reference serialisation (the `yaml` library): the output `fastYaml` must match byte for byte. */
export function libraryYaml(o: unknown): string {
  return stringify(o, YAML_OPTIONS);
}

// Each distinct scalar is rendered once by the library itself (quoting rules stay the library's), then reused.
const scalars = new Map<string, string>();
class NotFast extends Error {}

function scalarText(v: unknown): string {
  if (typeof v === 'string') {
    let text = scalars.get(v);
    if (text === undefined) {
      text = stringify(v, YAML_OPTIONS).slice(0, -1);
      if (scalars.size >= 50_000) scalars.clear();
      scalars.set(v, text);
    }
    // A multi-line scalar (a block literal) depends on its indentation: leave the whole object to the library.
    if (text.includes('\n')) throw new NotFast();
    return text;
  }
  if ((typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean' || v === null) return String(v);
  throw new NotFast();
}

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function emitMap(m: Record<string, unknown>, indent: string, out: string[]): void {
  for (const key of Object.keys(m).sort()) {
    const v = m[key];
    if (v === undefined) continue;
    const head = `${indent}${scalarText(key)}:`;
    if (isMap(v)) {
      if (Object.keys(v).length === 0) out.push(`${head} {}`);
      else {
        out.push(head);
        emitMap(v, `${indent}  `, out);
      }
    } else if (Array.isArray(v)) {
      if (v.length === 0) out.push(`${head} []`);
      else {
        out.push(head);
        emitSeq(v, `${indent}  `, out);
      }
    } else out.push(`${head} ${scalarText(v)}`);
  }
}

function emitSeq(items: readonly unknown[], indent: string, out: string[]): void {
  for (const item of items) {
    if (isMap(item) && Object.keys(item).length > 0) {
      const start = out.length;
      emitMap(item, `${indent}  `, out);
      out[start] = `${indent}- ${(out[start] as string).slice(indent.length + 2)}`;
    } else if (isMap(item)) out.push(`${indent}- {}`);
    else if (Array.isArray(item)) throw new NotFast();
    else out.push(`${indent}- ${scalarText(item)}`);
  }
}

/**
 * Block YAML of plain data (maps, lists of maps or scalars), byte-identical to `libraryYaml` and many times faster;
 * undefined for anything outside that shape (a multi-line string, a list of lists), which the library then writes.
 * A property test holds the two equal on every rendered object.
 */
export function fastYaml(o: unknown): string | undefined {
  if (!isMap(o)) return undefined;
  const out: string[] = [];
  try {
    emitMap(o, '', out);
  } catch (e) {
    if (e instanceof NotFast) return undefined;
    throw e;
  }
  return out.length === 0 ? undefined : `${out.join('\n')}\n`;
}

/**
 * The environment as files, one per object (`render` of the env-pack contract, `gtc op env render`). Pure and
 * byte-stable: the same desired state gives the same bytes.
 *
 * @example
 * for (const f of renderManifests(desired)) console.log(f.path);
 */
export function renderManifests(desired: DesiredState, options: RenderOptions = {}): RenderedFile[] {
  return renderObjects(desired, options).map((o) => ({ content: toYaml(o), path: fileNameOf(o) }));
}
