import {
  BUNDLE_ID_PATTERN,
  DIGEST_PATTERN,
  DNS_LABEL_PATTERN,
  PACK_ID_PATTERN,
  SECRET_REF_PATTERN,
  SEMVER_PATTERN,
} from './identifiers';

const dnsLabel = new RegExp(DNS_LABEL_PATTERN);
const packId = new RegExp(PACK_ID_PATTERN);
const semver = new RegExp(SEMVER_PATTERN);
const digest = new RegExp(DIGEST_PATTERN);
const secretRef = new RegExp(SECRET_REF_PATTERN);
const bundleId = new RegExp(BUNDLE_ID_PATTERN);

/**
 * True for a DNS-1123 label: environment, tenant, deployment and revision names.
 *
 * @example
 * isDnsLabel('zain-prod') // true
 * isDnsLabel('Zain_Prod') // false
 */
export function isDnsLabel(name: string): boolean {
  return name.length <= 63 && dnsLabel.test(name);
}

/** True for a dotted env-pack id such as `greentic.deployer.k8s`. @example isPackId('greentic.secrets.file') // true */
export function isPackId(id: string): boolean {
  return id.length <= 253 && packId.test(id);
}

/** True for a Semantic Versioning 2.0.0 version. @example isSemVer('1.2.3-rc.1') // true */
export function isSemVer(version: string): boolean {
  return semver.test(version);
}

/** True for `sha256:<64 lowercase hex>`. @example isDigest('sha256:' + '0'.repeat(64)) // true */
export function isDigest(value: string): boolean {
  return digest.test(value);
}

/** True for a bundle id (dotted DNS labels). @example isBundleId('acme.support-bot') // true */
export function isBundleId(value: string): boolean {
  return value.length <= 253 && bundleId.test(value);
}

/**
 * Split `secret://<store>/<name…>` into its parts, or `undefined` when it is not a secret reference.
 *
 * @example
 * parseSecretRef('secret://local/openai/api-key') // { store: 'local', name: 'openai/api-key' }
 */
export function parseSecretRef(ref: string): { store: string; name: string } | undefined {
  if (!secretRef.test(ref)) return undefined;
  const rest = ref.slice('secret://'.length);
  const slash = rest.indexOf('/');
  return { store: rest.slice(0, slash), name: rest.slice(slash + 1) };
}
