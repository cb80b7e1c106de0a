// @greentic/deploy-spec: the vocabulary of Greentic deploy. Types, JSON Schemas, validation, digests. No I/O.

export { bytesDigest, canonicalJson, contentDigest } from './canonical-json';
export { isBundleId, isDigest, isDnsLabel, isPackId, isSemVer, parseSecretRef } from './identifier-checks';
export {
  BUNDLE_ID_PATTERN,
  DIGEST_PATTERN,
  DNS_LABEL_PATTERN,
  PACK_ID_PATTERN,
  RUNTIME_REF_PATTERN,
  SECRET_REF_PATTERN,
  SEMVER_PATTERN,
} from './identifiers';
export type {
  AuditEntry,
  Bundle,
  BundleRef,
  ConfigMap,
  Credentials,
  CredentialsMode,
  Deployment,
  Environment,
  EnvironmentManifest,
  HealthResult,
  Launch,
  ManifestDeployment,
  PackRef,
  Permission,
  Revision,
  RevisionState,
  RouteDeployment,
  RouteMatch,
  RouteRevision,
  RulesPack,
  RuntimeConfig,
  SchemaName,
  Slot,
  Slots,
  TrafficEntry,
  TrafficSplit,
  TrustRoot,
} from './model';
export { AUDIT_OUTCOMES, BASIS_POINTS_TOTAL, REVISION_STATES, SCHEMAS, SLOTS } from './model';
export { jsonSchemaOf, SCHEMA_BASE_URI, SCHEMA_NAMES } from './schema-files';
export type { Result, ValidationError } from './validate';
export { formatErrors, validate } from './validate';
