// An offline Pod Security Standards checker (Baseline and Restricted, policy version v1.37), written from
// https://kubernetes.io/docs/concepts/security/pod-security-standards/ and proven on the upstream test corpus of
// kubernetes/pod-security-admission (test/fixtures/pod-security). It reads plain objects (parsed YAML), never
// trusts types, and reports every violated check with the container it found it in.

/** The two enforcing levels of the Pod Security Standards (`privileged` allows everything, so it needs no checker). */
export type PodSecurityLevel = 'baseline' | 'restricted';

/** One failed check: its upstream id (`runAsNonRoot`, `capabilities_restricted`, …) and what to change. */
export interface PodSecurityViolation {
  readonly check: string;
  readonly message: string;
}

export interface PodSecurityReport {
  readonly allowed: boolean;
  readonly level: PodSecurityLevel;
  readonly violations: readonly PodSecurityViolation[];
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const obj = (v: unknown): Obj => (isObj(v) ? v : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

// Baseline "Capabilities": only these may be added (upstream check capabilities_baseline).
const BASELINE_CAPABILITIES = new Set([
  'AUDIT_WRITE',
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'FSETID',
  'KILL',
  'MKNOD',
  'NET_BIND_SERVICE',
  'SETFCAP',
  'SETGID',
  'SETPCAP',
  'SETUID',
  'SYS_CHROOT',
]);

// Baseline "Sysctls": the safe set, as of v1.37.
const SAFE_SYSCTLS = new Set([
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
  'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
  'net.ipv4.tcp_rmem',
  'net.ipv4.tcp_wmem',
  'net.ipv4.tcp_slow_start_after_idle',
  'net.ipv4.tcp_notsent_lowat',
]);

// Baseline "SELinux": these types only; user and role must stay empty.
const SELINUX_TYPES = new Set(['', 'container_t', 'container_init_t', 'container_kvm_t', 'container_engine_t']);

// Restricted "Volume Types": only these sources (a volume with no source defaults to emptyDir).
const RESTRICTED_VOLUME_SOURCES = new Set([
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'image',
  'persistentVolumeClaim',
  'projected',
  'secret',
]);

const PROBES = ['livenessProbe', 'readinessProbe', 'startupProbe'] as const;
const LIFECYCLE_HOOKS = ['postStart', 'preStop'] as const;
const APPARMOR_ANNOTATION = 'container.apparmor.security.beta.kubernetes.io/';

interface NamedContainer {
  readonly label: string;
  readonly c: Obj;
  readonly sc: Obj;
}

function containersOf(spec: Obj): NamedContainer[] {
  const out: NamedContainer[] = [];
  for (const [field, label] of [
    ['initContainers', 'init container'],
    ['containers', 'container'],
    ['ephemeralContainers', 'ephemeral container'],
  ] as const) {
    for (const raw of list(spec[field])) {
      const c = obj(raw);
      out.push({ label: `${label} ${String(c.name ?? '?')}`, c, sc: obj(c.securityContext) });
    }
  }
  return out;
}

/**
 * Check one pod (a `Pod` object, or `{ metadata, spec }` of a pod template) against a Pod Security level.
 * Restricted includes every Baseline check.
 *
 * @example
 * const report = checkPodSecurity(yaml.parse(text), 'restricted');
 * if (!report.allowed) console.error(report.violations.map((v) => v.message).join('\n'));
 */
export function checkPodSecurity(pod: unknown, level: PodSecurityLevel): PodSecurityReport {
  const p = obj(pod);
  const meta = obj(p.metadata);
  const spec = obj(p.spec);
  const podSc = obj(spec.securityContext);
  const containers = containersOf(spec);
  const violations: PodSecurityViolation[] = [];
  const fail = (check: string, message: string) => violations.push({ check, message });

  // ---- Baseline ----
  for (const field of ['hostNetwork', 'hostPID', 'hostIPC'] as const) {
    if (spec[field] === true) fail('hostNamespaces', `${field}=true: remove it (host namespaces are forbidden)`);
  }
  for (const { label, sc } of containers) {
    if (sc.privileged === true) fail('privileged', `${label}: securityContext.privileged=true: remove it`);
  }
  for (const { label, sc } of containers) {
    for (const cap of list(obj(sc.capabilities).add)) {
      if (typeof cap !== 'string' || !BASELINE_CAPABILITIES.has(cap)) {
        fail('capabilities_baseline', `${label}: capability ${String(cap)} may not be added`);
      }
    }
  }
  for (const raw of list(spec.volumes)) {
    const v = obj(raw);
    if (v.hostPath !== undefined) fail('hostPathVolumes', `volume ${String(v.name)}: hostPath volumes are forbidden`);
  }
  for (const { label, c } of containers) {
    for (const port of list(c.ports)) {
      const hostPort = obj(port).hostPort;
      if (hostPort !== undefined && hostPort !== 0)
        fail('hostPorts', `${label}: hostPort ${String(hostPort)}: remove it`);
    }
  }
  for (const [key, value] of Object.entries(obj(meta.annotations))) {
    if (!key.startsWith(APPARMOR_ANNOTATION)) continue;
    if (value !== 'runtime/default' && !(typeof value === 'string' && value.startsWith('localhost/'))) {
      fail('appArmorProfile', `annotation ${key}=${String(value)}: use runtime/default or localhost/<profile>`);
    }
  }
  const badAppArmor = (sc: Obj) => {
    const t = obj(sc.appArmorProfile).type;
    return t !== undefined && t !== 'RuntimeDefault' && t !== 'Localhost';
  };
  if (badAppArmor(podSc)) fail('appArmorProfile', 'pod appArmorProfile.type must be RuntimeDefault or Localhost');
  for (const { label, sc } of containers) {
    if (badAppArmor(sc)) fail('appArmorProfile', `${label}: appArmorProfile.type must be RuntimeDefault or Localhost`);
  }
  const badSeLinux = (sc: Obj) => {
    if (sc.seLinuxOptions === undefined) return false;
    const o = obj(sc.seLinuxOptions);
    const type = o.type ?? '';
    return typeof type !== 'string' || !SELINUX_TYPES.has(type) || (o.user ?? '') !== '' || (o.role ?? '') !== '';
  };
  if (badSeLinux(podSc)) fail('seLinuxOptions', 'pod seLinuxOptions: only container_* types, no user or role');
  for (const { label, sc } of containers) {
    if (badSeLinux(sc)) fail('seLinuxOptions', `${label}: seLinuxOptions: only container_* types, no user or role`);
  }
  // Baseline "/proc Mount Type": Unmasked is allowed only inside a user namespace (hostUsers: false).
  for (const { label, sc } of containers) {
    const pm = sc.procMount;
    if (pm !== undefined && pm !== 'Default' && spec.hostUsers !== false) {
      fail('procMount', `${label}: procMount ${String(pm)} needs hostUsers: false (or use Default)`);
    }
  }
  const unconfined = (sc: Obj) => obj(sc.seccompProfile).type === 'Unconfined';
  if (unconfined(podSc)) fail('seccompProfile_baseline', 'pod seccompProfile.type Unconfined is forbidden');
  for (const { label, sc } of containers) {
    if (unconfined(sc)) fail('seccompProfile_baseline', `${label}: seccompProfile.type Unconfined is forbidden`);
  }
  for (const raw of list(podSc.sysctls)) {
    const name = obj(raw).name;
    if (typeof name !== 'string' || !SAFE_SYSCTLS.has(name))
      fail('sysctls', `sysctl ${String(name)} is not in the safe set`);
  }
  const hostProcess = (sc: Obj) => obj(sc.windowsOptions).hostProcess === true;
  if (hostProcess(podSc)) fail('windowsHostProcess', 'pod windowsOptions.hostProcess=true is forbidden');
  for (const { label, sc } of containers) {
    if (hostProcess(sc)) fail('windowsHostProcess', `${label}: windowsOptions.hostProcess=true is forbidden`);
  }
  // Baseline "Host Probes / Lifecycle Hooks" (v1.34+): probes and hooks may not name a host, not even localhost.
  for (const { label, c } of containers) {
    const handlers: [string, Obj][] = [
      ...PROBES.map((p): [string, Obj] => [p, obj(c[p])]),
      ...LIFECYCLE_HOOKS.map((h): [string, Obj] => [`lifecycle.${h}`, obj(obj(c.lifecycle)[h])]),
    ];
    for (const [where, h] of handlers) {
      for (const action of ['httpGet', 'tcpSocket'] as const) {
        const host = obj(h[action]).host;
        if (host !== undefined && host !== '') {
          fail('hostProbesAndHostLifecycle', `${label}: ${where}.${action}.host ${String(host)}: remove it`);
        }
      }
    }
  }
  if (level === 'baseline') return { allowed: violations.length === 0, level, violations };

  // ---- Restricted ----
  // Windows pods are exempt from the Linux-only checks (seccomp, capabilities, privilege escalation).
  const windows = obj(spec.os).name === 'windows';
  for (const raw of list(spec.volumes)) {
    const v = obj(raw);
    for (const key of Object.keys(v)) {
      if (key !== 'name' && !RESTRICTED_VOLUME_SOURCES.has(key)) {
        fail('restrictedVolumes', `volume ${String(v.name)}: ${key} volumes are not allowed`);
      }
    }
  }
  // Restricted "/proc Mount Type" (v1.35+): Default only, even inside a user namespace.
  for (const { label, sc } of containers) {
    const pm = sc.procMount;
    if (pm !== undefined && pm !== 'Default' && spec.hostUsers === false) {
      fail('procMount_restricted', `${label}: procMount ${String(pm)}: use Default`);
    }
  }
  if (!windows) {
    for (const { label, sc } of containers) {
      if (sc.allowPrivilegeEscalation !== false) {
        fail('allowPrivilegeEscalation', `${label}: set securityContext.allowPrivilegeEscalation: false`);
      }
    }
  }
  // Running as non-root: the pod says true and no container says false, or every container says true.
  const podNonRoot = podSc.runAsNonRoot === true;
  for (const { label, sc } of containers) {
    if (sc.runAsNonRoot === false) fail('runAsNonRoot', `${label}: runAsNonRoot=false is forbidden`);
    else if (!podNonRoot && sc.runAsNonRoot !== true) {
      fail('runAsNonRoot', `${label}: set runAsNonRoot: true (on the pod or on the container)`);
    }
  }
  if (podSc.runAsNonRoot === false) fail('runAsNonRoot', 'pod runAsNonRoot=false is forbidden');
  if (podSc.runAsUser === 0) fail('runAsUser', 'pod runAsUser=0 is forbidden: use a non-zero numeric user');
  for (const { label, sc } of containers) {
    if (sc.runAsUser === 0) fail('runAsUser', `${label}: runAsUser=0 is forbidden: use a non-zero numeric user`);
  }
  if (!windows) {
    const confined = (sc: Obj) => {
      const t = obj(sc.seccompProfile).type;
      return t === 'RuntimeDefault' || t === 'Localhost';
    };
    const podConfined = confined(podSc);
    for (const { label, sc } of containers) {
      const t = obj(sc.seccompProfile).type;
      if (t === undefined ? !podConfined : !confined(sc)) {
        fail('seccompProfile_restricted', `${label}: seccompProfile.type must be RuntimeDefault or Localhost`);
      }
    }
    for (const { label, sc } of containers) {
      const caps = obj(sc.capabilities);
      if (!list(caps.drop).includes('ALL'))
        fail('capabilities_restricted', `${label}: capabilities.drop must include ALL`);
      for (const cap of list(caps.add)) {
        if (cap !== 'NET_BIND_SERVICE') {
          fail('capabilities_restricted', `${label}: only NET_BIND_SERVICE may be added, not ${String(cap)}`);
        }
      }
    }
  }
  return { allowed: violations.length === 0, level, violations };
}
