// greentic-store-server: the Greentic deploy store over HTTP (Hono). Start it in-process with
// startStoreServer, or build the app alone with createStoreApp and test it through app.request().

export type { StoreAppDeps, StoreAppEnv } from './app';
export { createStoreApp, storeTokenDirectory } from './app';
export type { AccessDecision, AccessGrant, AccessRule, Action, Principal, Role } from './authorization';
export { authorize, matchesGlob, READ_ACTIONS, ROLES } from './authorization';
export { parseServerArgs, USAGE, UsageError } from './cli-options';
export type { HealthState, IntegrityState } from './health';
export { createHealthState } from './health';
export type { MtlsOptions } from './identity/mtls';
export { mtlsProvider } from './identity/mtls';
export type { OidcOptions } from './identity/oidc';
export { oidcProvider } from './identity/oidc';
export type { IdentityOutcome, IdentityProvider, IdentityRequest, PeerCertificate } from './identity/provider';
export { chainIdentityProviders } from './identity/provider';
export type { TokenDirectory, TokenRecord } from './identity/static-tokens';
export { fixedTokenDirectory, hashToken, mintToken, staticTokenProvider } from './identity/static-tokens';
export type { Logger } from './logger';
export { jsonLogger, silentLogger } from './logger';
export type { StoreMetrics } from './metrics';
export { createStoreMetrics } from './metrics';
export { buildOpenApiDocument } from './openapi';
export type { RunningStoreServer, StartStoreServerOptions } from './server';
export { startStoreServer } from './server';
