import { Type } from '@sinclair/typebox';

// Identifier grammars. Each schema's `description` completes the sentence "must be …", which is how
// validation errors are phrased (see validate.ts), so keep them readable by a person.

/** RFC 1123 label, as Kubernetes uses for namespaces: 1–63 chars, lowercase alphanumerics and '-'. */
export const DNS_LABEL_PATTERN = '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$';
/** Dotted env-pack id such as `greentic.deployer.k8s`: at least two lowercase segments. */
export const PACK_ID_PATTERN = '^[a-z][a-z0-9-]*(\\.[a-z][a-z0-9-]*)+$';
/** Semantic Versioning 2.0.0, the regular expression published at semver.org. */
export const SEMVER_PATTERN =
  '^(0|[1-9]\\d*)\\.(0|[1-9]\\d*)\\.(0|[1-9]\\d*)(?:-((?:0|[1-9]\\d*|\\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\\.(?:0|[1-9]\\d*|\\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\\+([0-9a-zA-Z-]+(?:\\.[0-9a-zA-Z-]+)*))?$';
export const DIGEST_PATTERN = '^sha256:[0-9a-f]{64}$';
export const SECRET_REF_PATTERN = '^secret://[a-z0-9][a-z0-9._-]*(/[A-Za-z0-9._-]+)+$';
export const RUNTIME_REF_PATTERN = '^runtime://[a-z0-9][a-z0-9._-]*(/[A-Za-z0-9._-]+)+$';
/** Bundle ids: a DNS label or a dotted name of DNS labels (`support-bot`, `acme.support-bot`). */
export const BUNDLE_ID_PATTERN = '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$';

export const DnsLabel = Type.String({
  pattern: DNS_LABEL_PATTERN,
  maxLength: 63,
  description: "a DNS-1123 label (1–63 lowercase letters, digits or '-', starting and ending with a letter or digit)",
});
export const EnvironmentName = Type.String({
  pattern: DNS_LABEL_PATTERN,
  maxLength: 63,
  description: "an environment name as a DNS-1123 label (1–63 lowercase letters, digits or '-', e.g. zain-prod)",
});
export const TenantName = Type.String({
  pattern: DNS_LABEL_PATTERN,
  maxLength: 63,
  description: "a tenant name as a DNS-1123 label (1–63 lowercase letters, digits or '-', e.g. zain)",
});
export const DeploymentName = Type.String({
  pattern: DNS_LABEL_PATTERN,
  maxLength: 63,
  description: "a deployment name as a DNS-1123 label (1–63 lowercase letters, digits or '-', e.g. support)",
});
export const RevisionId = Type.String({
  pattern: DNS_LABEL_PATTERN,
  maxLength: 63,
  description: "a revision id as a DNS-1123 label (1–63 lowercase letters, digits or '-', e.g. r7)",
});
export const PackId = Type.String({
  pattern: PACK_ID_PATTERN,
  maxLength: 253,
  description: 'an env-pack id as a dotted name of lowercase segments (e.g. greentic.deployer.k8s)',
});
export const BundleId = Type.String({
  pattern: BUNDLE_ID_PATTERN,
  maxLength: 253,
  description: 'a bundle id: lowercase DNS labels joined by dots (e.g. support-bot or acme.support-bot)',
});
export const SemVer = Type.String({
  pattern: SEMVER_PATTERN,
  maxLength: 256,
  description: 'a semantic version (MAJOR.MINOR.PATCH, e.g. 1.4.0 or 2.0.0-rc.1)',
});
export const Digest = Type.String({
  pattern: DIGEST_PATTERN,
  description: 'a content digest of the form sha256:<64 lowercase hex characters>',
});
export const SecretRef = Type.String({
  pattern: SECRET_REF_PATTERN,
  maxLength: 512,
  description: 'a secret reference of the form secret://<store>/<name>, never a secret value',
});
export const RuntimeRef = Type.String({
  pattern: RUNTIME_REF_PATTERN,
  maxLength: 512,
  description: 'a runtime reference of the form runtime://<provider>/<name>',
});
export const Timestamp = Type.String({
  format: 'date-time',
  description: 'an RFC 3339 timestamp (e.g. 2026-11-23T10:00:00Z)',
});
export const ActorId = Type.String({
  minLength: 1,
  maxLength: 256,
  pattern: '^[^\\s]+$',
  description: 'an actor id without whitespace (e.g. alice@example.com or token:ci)',
});
