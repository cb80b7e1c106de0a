import type { Environment } from '@greentic/deploy-spec';
import { isDnsLabel } from '@greentic/deploy-spec';
import { EnvPackError } from '@greentic/env-pack';
import { PACK_ID } from './kinds';

/** The deployer's settings for one environment, read from `slots.deployer.config` with defaults filled in. */
export interface K8sSettings {
  /** Namespace of the environment (default `greentic-<env>`). */
  readonly namespace: string;
  /** Router (dispatcher) image. */
  readonly routerImage: string;
  /** Router replicas, at least 2 so a node drain never takes the router down. */
  readonly routerReplicas: number;
  /** Worker image when a bundle names none in `launch.image`. */
  readonly workerImage: string | undefined;
  readonly workerReplicas: number;
  /** Numeric, non-root user every container runs as. */
  readonly runAsUser: number;
  /** Namespace of the ingress controller allowed to reach the router. */
  readonly ingressNamespace: string;
  readonly cpuRequest: string;
  readonly memoryRequest: string;
  readonly memoryLimit: string;
  /** Port every container listens on. */
  readonly port: number;
}

/** Defaults for every setting not given in the environment's deployer config. */
export const DEFAULT_SETTINGS = {
  routerImage: 'ghcr.io/greentic-ai/greentic-dispatcher:0.1.0',
  routerReplicas: 2,
  workerReplicas: 1,
  runAsUser: 10001,
  ingressNamespace: 'ingress-nginx',
  cpuRequest: '100m',
  memoryRequest: '128Mi',
  memoryLimit: '256Mi',
  port: 8080,
} as const;

const QUANTITY = /^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/;

function bad(env: string, key: string, value: unknown, need: string): EnvPackError {
  return new EnvPackError(
    'refused',
    `environment ${env}: deployer config ${key}=${JSON.stringify(value)} ${need}; fix slots.deployer.config.${key}`,
    { pack: PACK_ID, details: { key } },
  );
}

/**
 * Read and check the deployer settings of an environment. Bad values throw `refused` naming the key and the fix.
 *
 * @example
 * const s = readSettings(environment); // s.namespace === 'greentic-zain-prod'
 */
export function readSettings(environment: Environment): K8sSettings {
  const cfg = environment.slots.deployer?.config ?? {};
  const env = environment.name;
  const str = (key: string, fallback: string): string => {
    const v = cfg[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'string' || v.length === 0) throw bad(env, key, v, 'must be a non-empty string');
    return v;
  };
  const int = (key: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const v = cfg[key];
    if (v === undefined) return fallback;
    const n = typeof v === 'string' && /^[0-9]+$/.test(v) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
      throw bad(
        env,
        key,
        v,
        max === Number.MAX_SAFE_INTEGER ? `must be an integer ≥ ${min}` : `must be an integer from ${min} to ${max}`,
      );
    }
    return n;
  };
  const quantity = (key: string, fallback: string): string => {
    const v = str(key, fallback);
    if (!QUANTITY.test(v)) throw bad(env, key, v, 'must be a Kubernetes quantity such as 100m or 256Mi');
    return v;
  };
  const label = (key: string, fallback: string): string => {
    const v = str(key, fallback);
    if (!isDnsLabel(v)) throw bad(env, key, v, 'must be a DNS-1123 label');
    return v;
  };
  const workerImage = cfg.workerImage === undefined ? undefined : str('workerImage', '');
  return {
    namespace: label('namespace', `greentic-${env}`.slice(0, 63).replace(/-+$/, '')),
    routerImage: str('routerImage', DEFAULT_SETTINGS.routerImage),
    routerReplicas: int('routerReplicas', DEFAULT_SETTINGS.routerReplicas, 2),
    workerImage,
    workerReplicas: int('workerReplicas', DEFAULT_SETTINGS.workerReplicas, 1),
    runAsUser: int('runAsUser', DEFAULT_SETTINGS.runAsUser, 1),
    ingressNamespace: label('ingressNamespace', DEFAULT_SETTINGS.ingressNamespace),
    cpuRequest: quantity('cpuRequest', DEFAULT_SETTINGS.cpuRequest),
    memoryRequest: quantity('memoryRequest', DEFAULT_SETTINGS.memoryRequest),
    memoryLimit: quantity('memoryLimit', DEFAULT_SETTINGS.memoryLimit),
    port: int('port', DEFAULT_SETTINGS.port, 1024, 65535),
  };
}
