import { randomUUID } from 'node:crypto';
import {
  type Bundle,
  contentDigest,
  type Deployment,
  type Environment,
  type HealthResult,
} from '@greentic/deploy-spec';
import type { MutationOptions, StageRevisionInput } from '../contract';
import { isStoreError, type StoreError, type StoreErrorCode } from '../errors';

// Small builders for the contract suite: valid objects with the fewest fields, unique idempotency keys.

export const ACTOR = 'alice@example.com';

/** Mutation options with a fresh idempotency key. */
export function opts(extra: Partial<MutationOptions> = {}): MutationOptions {
  return { actor: ACTOR, idempotencyKey: `key-${randomUUID()}`, ...extra };
}

export function environment(name: string, config: Environment['config'] = {}): Environment {
  return { name, slots: {}, config };
}

export function bundle(id = 'support-bot', version = '1.0.0'): Bundle {
  return {
    id,
    version,
    digest: contentDigest({ id, version }),
    capabilities: ['greentic.deployer.local-process'],
    secrets: ['secret://vault/support/api-key'],
    runtime: [],
  };
}

export function deployment(env: string, name: string, tenant = 'acme'): Deployment {
  return { environment: env, name, tenant, billingCustomer: 'cust-1', bundleId: 'support-bot' };
}

export function revision(env: string, dep: string, id: string): StageRevisionInput {
  const b = bundle();
  return {
    environment: env,
    deployment: dep,
    id,
    bundle: { id: b.id, version: b.version, digest: b.digest },
    packConfig: { 'greentic.deployer.local-process': { replicas: 1 } },
    secretRefs: ['secret://vault/support/api-key'],
    createdAt: '2026-11-23T10:00:00Z',
  };
}

export const PASSED: HealthResult = { passed: true, checkedAt: '2026-11-23T10:01:00Z', detail: 'GET /healthz 200' };

/** Await `p`, expect it to reject with a StoreError of `code`, and return the error. */
export async function refusal(p: Promise<unknown>, code: StoreErrorCode): Promise<StoreError> {
  try {
    await p;
  } catch (e) {
    if (isStoreError(e, code)) return e;
    throw new Error(
      `expected a StoreError "${code}", got ${isStoreError(e) ? `"${e.code}": ${e.message}` : String(e)}`,
      {
        cause: e,
      },
    );
  }
  throw new Error(`expected a StoreError "${code}", but the call succeeded`);
}
