import { type Static, Type } from '@sinclair/typebox';
import {
  ActorId,
  BundleId,
  DeploymentName,
  Digest,
  EnvironmentName,
  PackId,
  RevisionId,
  RuntimeRef,
  SecretRef,
  SemVer,
  TenantName,
  Timestamp,
} from './identifiers';

// The vocabulary of DESIGN.md ("Words"), one schema each. TypeScript types are derived from these
// schemas with `Static<>`, and the JSON Schema files in `schemas/` are generated from them
// (scripts/write-schemas.ts), so the two can never drift.

const strict = { additionalProperties: false } as const;

/** The capability slots an environment offers; one env-pack per slot. */
export const SLOTS = ['deployer', 'secrets', 'telemetry', 'sessions', 'state'] as const;
export const Slot = Type.Union(
  SLOTS.map((s) => Type.Literal(s)),
  { description: `one of the slots ${SLOTS.join(', ')}` },
);
export type Slot = Static<typeof Slot>;

export const ConfigValue = Type.Union([Type.String({ maxLength: 4096 }), Type.Number(), Type.Boolean()], {
  description: 'a string, number or boolean (secrets go in secret:// references, never in config)',
});
export const ConfigMap = Type.Record(Type.String({ pattern: '^[A-Za-z0-9_.-]{1,128}$' }), ConfigValue, {
  description: 'an object of non-secret settings (keys of letters, digits, _ . -)',
  additionalProperties: false,
});
export type ConfigMap = Static<typeof ConfigMap>;

export const PackRef = Type.Object(
  {
    id: PackId,
    version: Type.Optional(SemVer),
    config: Type.Optional(ConfigMap),
  },
  { ...strict, description: 'an env-pack reference { id, version?, config? }' },
);
export type PackRef = Static<typeof PackRef>;

export const TrustKey = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 128, description: 'a key id' }),
    algorithm: Type.Literal('ed25519', { description: 'the signature algorithm ed25519' }),
    publicKey: Type.String({
      pattern: '^[A-Za-z0-9+/]{43}=$',
      description: 'a base64-encoded 32-byte ed25519 public key',
    }),
  },
  strict,
);
export const TrustRoot = Type.Object(
  { keys: Type.Array(TrustKey, { description: 'a list of trusted signing keys' }) },
  { ...strict, description: 'a trust root { keys: [...] }' },
);
export type TrustRoot = Static<typeof TrustRoot>;

export const Slots = Type.Object(
  {
    deployer: Type.Optional(PackRef),
    secrets: Type.Optional(PackRef),
    telemetry: Type.Optional(PackRef),
    sessions: Type.Optional(PackRef),
    state: Type.Optional(PackRef),
  },
  { ...strict, description: `an object keyed by slot (${SLOTS.join(', ')})` },
);
export type Slots = Static<typeof Slots>;

export const Environment = Type.Object(
  {
    name: EnvironmentName,
    slots: Slots,
    config: ConfigMap,
    trustRoot: Type.Optional(TrustRoot),
    labels: Type.Optional(
      Type.Record(Type.String({ pattern: '^[A-Za-z0-9_./-]{1,128}$' }), Type.String({ maxLength: 256 }), {
        additionalProperties: false,
      }),
    ),
  },
  { ...strict, description: 'an environment { name, slots, config, trustRoot? }' },
);
export type Environment = Static<typeof Environment>;

export const Launch = Type.Object(
  {
    command: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'a non-empty argv list' }),
    ),
    image: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: 'an OCI image reference' })),
    healthPath: Type.Optional(
      Type.String({ pattern: '^/[^\\s]*$', description: 'an absolute HTTP path such as /healthz' }),
    ),
  },
  { ...strict, description: 'how to start the worker { command?, image?, healthPath? }' },
);
export type Launch = Static<typeof Launch>;

export const Bundle = Type.Object(
  {
    id: BundleId,
    version: SemVer,
    digest: Digest,
    capabilities: Type.Array(PackId, { uniqueItems: true, description: 'a list of unique capability names' }),
    secrets: Type.Array(SecretRef, { uniqueItems: true, description: 'a list of unique secret:// references' }),
    runtime: Type.Array(RuntimeRef, { uniqueItems: true, description: 'a list of unique runtime:// references' }),
    launch: Type.Optional(Launch),
  },
  { ...strict, description: 'a bundle { id, version, digest, capabilities, secrets, runtime }' },
);
export type Bundle = Static<typeof Bundle>;

export const BundleRef = Type.Object(
  { id: BundleId, version: SemVer, digest: Digest },
  { ...strict, description: 'a bundle reference { id, version, digest }' },
);
export type BundleRef = Static<typeof BundleRef>;

export const Deployment = Type.Object(
  {
    environment: EnvironmentName,
    name: DeploymentName,
    tenant: TenantName,
    billingCustomer: Type.String({
      minLength: 1,
      maxLength: 128,
      pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$',
      description: 'a billing customer id (letters, digits, . _ -)',
    }),
    bundleId: BundleId,
  },
  { ...strict, description: 'a deployment { environment, name, tenant, billingCustomer, bundleId }' },
);
export type Deployment = Static<typeof Deployment>;

export const REVISION_STATES = ['staged', 'warming', 'ready', 'draining', 'archived', 'failed'] as const;
export const RevisionState = Type.Union(
  REVISION_STATES.map((s) => Type.Literal(s)),
  { description: `one of the revision states ${REVISION_STATES.join(', ')}` },
);
export type RevisionState = Static<typeof RevisionState>;

export const HealthResult = Type.Object(
  {
    passed: Type.Boolean(),
    checkedAt: Timestamp,
    detail: Type.Optional(Type.String({ maxLength: 4096 })),
  },
  { ...strict, description: 'a health result { passed, checkedAt, detail? }' },
);
export type HealthResult = Static<typeof HealthResult>;

export const Revision = Type.Object(
  {
    environment: EnvironmentName,
    deployment: DeploymentName,
    id: RevisionId,
    bundle: BundleRef,
    packConfig: Type.Record(PackId, ConfigMap, {
      description: 'finalized per-pack config, keyed by env-pack id',
      additionalProperties: false,
    }),
    secretRefs: Type.Array(SecretRef, { uniqueItems: true, description: 'a list of unique secret:// references' }),
    state: RevisionState,
    createdAt: Timestamp,
    health: Type.Optional(HealthResult),
    failureReason: Type.Optional(Type.String({ maxLength: 4096 })),
  },
  { ...strict, description: 'a revision { environment, deployment, id, bundle, packConfig, ... }' },
);
export type Revision = Static<typeof Revision>;

export const BASIS_POINTS_TOTAL = 10_000;
export const TrafficEntry = Type.Object(
  {
    revision: RevisionId,
    weight: Type.Integer({
      minimum: 0,
      maximum: BASIS_POINTS_TOTAL,
      description: 'an integer number of basis points (0–10000)',
    }),
  },
  { ...strict, description: 'a traffic entry { revision, weight }' },
);
export type TrafficEntry = Static<typeof TrafficEntry>;

export const TrafficSplit = Type.Object(
  {
    environment: EnvironmentName,
    deployment: DeploymentName,
    entries: Type.Array(TrafficEntry, { minItems: 1, description: 'a non-empty list of { revision, weight }' }),
  },
  { ...strict, description: 'a traffic split { environment, deployment, entries }' },
);
export type TrafficSplit = Static<typeof TrafficSplit>;

export const Permission = Type.Object(
  {
    resource: Type.String({ minLength: 1, maxLength: 256, description: 'a resource name (e.g. apps/deployments)' }),
    verbs: Type.Array(Type.String({ pattern: '^[a-z*][a-zA-Z*]*$' }), {
      minItems: 1,
      uniqueItems: true,
      description: 'a non-empty list of unique verbs (e.g. get, create, patch)',
    }),
    scope: Type.Union(
      [Type.Literal('namespace'), Type.Literal('cluster'), Type.Literal('host'), Type.Literal('account')],
      {
        description: 'one of namespace, cluster, host, account',
      },
    ),
  },
  { ...strict, description: 'a permission { resource, verbs, scope }' },
);
export type Permission = Static<typeof Permission>;

export const CredentialsMode = Type.Union([Type.Literal('A'), Type.Literal('B')], {
  description: 'mode A (minimal key, verified) or B (master key used once to derive a rules pack)',
});
export type CredentialsMode = Static<typeof CredentialsMode>;

export const Credentials = Type.Object(
  {
    environment: EnvironmentName,
    pack: PackId,
    mode: CredentialsMode,
    requirements: Type.Array(Permission, { description: 'the permissions the deployer needs' }),
    subject: Type.Optional(Type.String({ maxLength: 512, description: 'the identity the key belongs to' })),
    secretRef: Type.Optional(SecretRef),
    verifiedAt: Type.Optional(Timestamp),
    rotatedAt: Type.Optional(Timestamp),
  },
  { ...strict, description: 'a credentials record { environment, pack, mode, requirements }' },
);
export type Credentials = Static<typeof Credentials>;

export const RulesPackFile = Type.Object(
  {
    path: Type.String({
      pattern: '^(?!(.*/)?\\.\\.?(/|$))[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$',
      description: 'a relative file path without .. segments',
    }),
    mediaType: Type.String({ minLength: 1, description: 'a media type such as application/yaml' }),
    content: Type.String({ description: 'the file content' }),
  },
  strict,
);
export const RulesPack = Type.Object(
  {
    environment: EnvironmentName,
    pack: PackId,
    generatedAt: Timestamp,
    permissions: Type.Array(Permission),
    files: Type.Array(RulesPackFile, { description: 'the reviewable files an admin applies offline' }),
  },
  { ...strict, description: 'a rules pack { environment, pack, generatedAt, permissions, files }' },
);
export type RulesPack = Static<typeof RulesPack>;

export const AUDIT_OUTCOMES = ['applied', 'refused'] as const;
export const AuditEntry = Type.Object(
  {
    seq: Type.Integer({ minimum: 1, description: 'a positive integer sequence number' }),
    at: Timestamp,
    actor: ActorId,
    environment: Type.Union([EnvironmentName, Type.Null()], { description: 'an environment name or null' }),
    action: Type.String({
      pattern: '^[a-z][a-z0-9-]*(\\.[a-z][a-z0-9-]*)*$',
      description: 'a dotted action name (e.g. traffic.set)',
    }),
    target: Type.String({ maxLength: 1024, description: 'the object acted on (e.g. zain-prod/support/r7)' }),
    outcome: Type.Union(
      AUDIT_OUTCOMES.map((o) => Type.Literal(o)),
      { description: 'applied or refused' },
    ),
    status: Type.Optional(Type.Integer({ minimum: 100, maximum: 599, description: 'an HTTP status code' })),
    code: Type.Optional(Type.String({ maxLength: 64, description: 'the stable error code of a refusal' })),
    requestId: Type.String({ minLength: 1, maxLength: 128, description: 'the request id' }),
    before: Type.Union([Digest, Type.Null()], { description: 'a digest or null' }),
    after: Type.Union([Digest, Type.Null()], { description: 'a digest or null' }),
    detail: Type.Optional(Type.String({ maxLength: 4096 })),
    prevHash: Digest,
    hash: Digest,
  },
  { ...strict, description: 'an audit entry' },
);
export type AuditEntry = Static<typeof AuditEntry>;

export const ManifestRevision = Type.Object(
  {
    id: RevisionId,
    bundle: BundleRef,
    packConfig: Type.Optional(Type.Record(PackId, ConfigMap, { additionalProperties: false })),
    secretRefs: Type.Optional(Type.Array(SecretRef, { uniqueItems: true })),
  },
  { ...strict, description: 'a revision { id, bundle, packConfig?, secretRefs? }' },
);
export const ManifestDeployment = Type.Object(
  {
    name: DeploymentName,
    tenant: TenantName,
    billingCustomer: Type.String({
      minLength: 1,
      maxLength: 128,
      pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$',
      description: 'a billing customer id (letters, digits, . _ -)',
    }),
    bundleId: BundleId,
    revisions: Type.Optional(Type.Array(ManifestRevision)),
    traffic: Type.Optional(
      Type.Array(TrafficEntry, { minItems: 1, description: 'a non-empty list of { revision, weight }' }),
    ),
  },
  { ...strict, description: 'a deployment { name, tenant, billingCustomer, bundleId, revisions?, traffic? }' },
);
export type ManifestDeployment = Static<typeof ManifestDeployment>;

export const EnvironmentManifest = Type.Object(
  {
    apiVersion: Type.Literal('greentic.ai/v1', { description: 'the manifest version greentic.ai/v1' }),
    kind: Type.Literal('Environment', { description: 'the kind Environment' }),
    name: EnvironmentName,
    slots: Slots,
    config: Type.Optional(ConfigMap),
    trustRoot: Type.Optional(TrustRoot),
    deployments: Type.Optional(Type.Array(ManifestDeployment)),
  },
  {
    ...strict,

    description: 'an environment manifest { apiVersion, kind, name, slots, config?, deployments? }',
  },
);
export type EnvironmentManifest = Static<typeof EnvironmentManifest>;

export const RouteRevision = Type.Object(
  {
    id: RevisionId,
    state: Type.Union([Type.Literal('ready'), Type.Literal('draining')], {
      description: 'ready or draining (only those are routable)',
    }),
    endpoint: Type.String({
      pattern: '^https?://[^\\s]+$',
      description: 'an http(s) base URL such as http://127.0.0.1:41234',
    }),
    weight: Type.Integer({
      minimum: 0,
      maximum: BASIS_POINTS_TOTAL,
      description: 'an integer number of basis points (0–10000)',
    }),
  },
  { ...strict, description: 'a routable revision { id, state, endpoint, weight }' },
);
export type RouteRevision = Static<typeof RouteRevision>;

export const RouteMatch = Type.Object(
  {
    hosts: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { description: 'host names (exact, lowercase)' }),
    ),
    pathPrefixes: Type.Optional(
      Type.Array(Type.String({ pattern: '^/[^\\s]*$' }), { description: 'path prefixes starting with /' }),
    ),
    tenants: Type.Optional(Type.Array(TenantName, { description: 'tenant names matched against the tenant header' })),
  },
  { ...strict, description: 'a route match { hosts?, pathPrefixes?, tenants? }' },
);
export type RouteMatch = Static<typeof RouteMatch>;

export const RouteDeployment = Type.Object(
  {
    name: DeploymentName,
    tenant: TenantName,
    match: Type.Optional(RouteMatch),
    revisions: Type.Array(RouteRevision, { description: 'the ready and draining revisions of this deployment' }),
  },
  { ...strict, description: 'a routed deployment { name, tenant, match?, revisions }' },
);
export type RouteDeployment = Static<typeof RouteDeployment>;

/** What a deployer produces for the router (dispatcher): per deployment, its routable revisions and weights. */
export const RuntimeConfig = Type.Object(
  {
    environment: EnvironmentName,
    generation: Type.Integer({ minimum: 0, description: 'a non-negative generation number that only grows' }),
    deployments: Type.Array(RouteDeployment),
  },
  { ...strict, description: 'a router runtime config { environment, generation, deployments }' },
);
export type RuntimeConfig = Static<typeof RuntimeConfig>;

/** Every top-level schema, by the file name it is published under (`schemas/<name>.json`). */
export const SCHEMAS = {
  environment: Environment,
  'pack-ref': PackRef,
  bundle: Bundle,
  deployment: Deployment,
  revision: Revision,
  'traffic-split': TrafficSplit,
  credentials: Credentials,
  'rules-pack': RulesPack,
  'audit-entry': AuditEntry,
  'environment-manifest': EnvironmentManifest,
  'runtime-config': RuntimeConfig,
} as const;
export type SchemaName = keyof typeof SCHEMAS;
