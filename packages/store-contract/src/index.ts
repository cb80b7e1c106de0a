// @greentic/store-contract: the typed verbs of the store, its error family, shared helpers.
// The contract test suite lives in the `@greentic/store-contract/testing` subpath (it imports vitest).

export { matchesEnvironmentPattern, ruleAllows } from './access';
export type {
  AccessRole,
  AccessRule,
  AccessToken,
  AuditHead,
  AuditProblem,
  AuditQuery,
  AuditVerification,
  BackupManifest,
  CreateTokenInput,
  CredentialsRecord,
  CredentialsRotation,
  GreenticStore,
  IntegrityReport,
  MutationOptions,
  MutationResult,
  ObjectKind,
  RefusalRecord,
  RestoreOptions,
  RestoreReport,
  RetentionPolicy,
  RetentionReport,
  SecretRefRecord,
  StageRevisionInput,
  StoreVerb,
  TrafficHistoryEntry,
  TransitionOptions,
  Versioned,
  VersionTag,
} from './contract';
export { ACCESS_ROLES, OBJECT_KINDS, STORE_VERBS, VERB_ACTIONS } from './contract';
export type { RefusalReason, StoredObjectName, StoreErrorCode, StoreErrorDetails, StoreErrorJson } from './errors';
export {
  isStoreError,
  isStoreErrorCode,
  STORE_ERROR_CODES,
  STORE_ERROR_EXIT_CODES,
  STORE_ERROR_HTTP_STATUS,
  StoreError,
} from './errors';
// The HTTP wire contract and client (owned by the store-server work, issue 4).
export type { HttpStoreOptions } from './http-client';
export { createHttpStore } from './http-client';
export type { HttpRoute, HttpRouteName, LocalOnlyVerb, Page, WireProblem } from './http-wire';
export {
  etagOf,
  fillPath,
  HTTP_HEADERS,
  HTTP_ROUTES,
  MAX_PAGE_SIZE,
  storeErrorFromProblem,
  versionOfEtag,
} from './http-wire';
