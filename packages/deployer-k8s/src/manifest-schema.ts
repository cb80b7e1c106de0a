import { Ajv, type ValidateFunction } from 'ajv';
import definitions from '../schemas/kubernetes-definitions.json' with { type: 'json' };
import { type K8sObject, kindInfo } from './kinds';

// One ajv instance, each kind's validator compiled once on first use (STYLE 5).
const ajv = new Ajv({ allErrors: true, strict: false });
ajv.addSchema({ $id: 'k8s', definitions: definitions.definitions });
const compiled = new Map<string, ValidateFunction>();

/** One schema error: where in the object, and what is wrong there. */
export interface ManifestError {
  readonly path: string;
  readonly message: string;
}

export type ManifestValidation =
  | { readonly ok: true }
  | { readonly ok: false; readonly errors: readonly ManifestError[] };

/**
 * Validate an object against the published Kubernetes schema of its kind (vendored from the models of
 * @kubernetes/client-node, see schemas/kubernetes-definitions.json), unknown fields rejected.
 *
 * @example
 * const r = validateManifest({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x' }, spek: {} });
 * // r.ok === false, r.errors[0].message: "unknown field spek"
 */
export function validateManifest(object: K8sObject): ManifestValidation {
  const info = kindInfo(object.kind, object.apiVersion);
  let validate = compiled.get(info.definition);
  if (!validate) {
    validate = ajv.compile({ $ref: `k8s#/definitions/${info.definition}` });
    compiled.set(info.definition, validate);
  }
  if (validate(object)) return { ok: true };
  const errors = (validate.errors ?? []).map((e) => ({
    path: e.instancePath || '/',
    message:
      e.keyword === 'additionalProperties'
        ? `unknown field ${String((e.params as { additionalProperty?: string }).additionalProperty)}`
        : (e.message ?? 'is invalid'),
  }));
  return { ok: false, errors };
}

/** The vendored schema source, e.g. `@kubernetes/client-node@2.0.1`. */
export const MANIFEST_SCHEMA_SOURCE: string = definitions.source;
