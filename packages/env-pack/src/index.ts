// @greentic/env-pack: the plug-in contract for every capability slot, and the registry that finds packs by name.

export type {
  AnyPack,
  CredentialInput,
  CredentialsApi,
  CredentialsVerification,
  DeployerCapabilities,
  DeployerPack,
  DesiredState,
  Drift,
  LivePhase,
  LiveRevision,
  LiveStatus,
  PackContext,
  PackFactory,
  PackFactoryOptions,
  PackOfSlot,
  PlanAction,
  PreflightCheck,
  PreflightReport,
  RenderedFile,
  RevisionTarget,
  SecretResolver,
  SecretResolverFactory,
  SecretsPack,
  SessionsPack,
  StatePack,
  TelemetryPack,
  WaitBudget,
  WarmResult,
} from './contract';
export { detectDrift } from './drift';
export type { EnvPackErrorCode } from './errors';
export { EnvPackError, isEnvPackError } from './errors';
export type { PermissionDiff } from './permissions';
export { diffPermissions } from './permissions';
export type { PackDeclaration, PackRegistry, RegisteredPack } from './registry';
export { createPackRegistry } from './registry';
export { buildRuntimeConfig, liveRevisionOf, routingProblems } from './routes';
export type { WaitOptions } from './wait';
export { waitFor } from './wait';
