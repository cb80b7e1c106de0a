import { createHash } from 'node:crypto';
import type { Bundle, Deployment, Environment, Revision, RevisionState } from '@greentic/deploy-spec';
import type { DesiredState, RevisionTarget } from '@greentic/env-pack';

/** One revision of the sample: its deployment, id, state and weight. */
export interface SampleRevision {
  readonly deployment: string;
  readonly tenant?: string;
  readonly id: string;
  readonly state: RevisionState;
  readonly weight?: number;
}

const digestOf = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;

/**
 * An environment using greentic.deployer.k8s, with `config` merged into its deployer slot.
 *
 * @example
 * const env = sampleEnvironment('zain-prod', { workerImage: 'registry.example/worker:1.0.0' });
 */
export function sampleEnvironment(name: string, config: Record<string, string | number | boolean> = {}): Environment {
  return {
    config: {},
    name,
    slots: {
      deployer: {
        config: { workerImage: 'registry.example/greentic-worker:1.0.0', ...config },
        id: 'greentic.deployer.k8s',
      },
    },
  };
}

/**
 * A revision target (deployment, revision, bundle, weight) for tests, demos and benches.
 *
 * @example
 * const t = sampleTarget('zain-prod', { deployment: 'support', id: 'r1', state: 'ready', weight: 10000 });
 */
export function sampleTarget(environment: string, r: SampleRevision): RevisionTarget {
  const tenant = r.tenant ?? 'acme';
  const bundle: Bundle = {
    capabilities: [],
    digest: digestOf(`${r.deployment}/${r.id}`),
    id: `${r.deployment}-bot`,
    launch: { healthPath: '/healthz' },
    runtime: [],
    secrets: [],
    version: '1.0.0',
  };
  const deployment: Deployment = {
    billingCustomer: `${tenant}-billing`,
    bundleId: bundle.id,
    environment,
    name: r.deployment,
    tenant,
  };
  const revision: Revision = {
    bundle: { digest: bundle.digest, id: bundle.id, version: bundle.version },
    createdAt: '2026-11-23T10:00:00Z',
    deployment: r.deployment,
    environment,
    id: r.id,
    packConfig: {},
    secretRefs: [],
    state: r.state,
  };
  return { bundle, deployment, revision, weight: r.weight ?? 0 };
}

/**
 * A desired state for `environment` holding `revisions`.
 *
 * @example
 * const desired = sampleDesiredState(sampleEnvironment('demo'), [{ deployment: 'support', id: 'r1', state: 'ready', weight: 10000 }]);
 */
export function sampleDesiredState(environment: Environment, revisions: readonly SampleRevision[]): DesiredState {
  return { environment, targets: revisions.map((r) => sampleTarget(environment.name, r)) };
}
