import * as t from 'typanion';

// Kept in step with @greentic/deploy-spec's identifier patterns; repeated here so that parsing the command line
// never loads ajv (cold start). The store validates again with the real schemas.
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const PACK_ID = /^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$/;
const BUNDLE_ID = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/;

/** A DNS-1123 label: environment, deployment, tenant and revision names. */
export const isName = t.cascade(t.isString(), [t.matchesRegExp(DNS_LABEL)]);
/** A dotted env-pack id such as greentic.deployer.local-process. */
export const isPackId = t.cascade(t.isString(), [t.matchesRegExp(PACK_ID)]);
export const isBundleId = t.cascade(t.isString(), [t.matchesRegExp(BUNDLE_ID)]);
export const isSlot = t.isEnum(['deployer', 'secrets', 'telemetry', 'sessions', 'state'] as const);
/** Seconds to wait, 1 to 3600. */
export const isSeconds = t.cascade(t.isNumber(), [t.isInteger(), t.isInInclusiveRange(1, 3600)]);
export const isPositive = t.cascade(t.isNumber(), [t.isInteger(), t.isInInclusiveRange(1, 100_000)]);
export const isOutcome = t.isEnum(['applied', 'refused'] as const);
/**
 * A Debian package name (Debian Policy §5.6.1: lowercase letters, digits, `+ - .`, starting alphanumeric), at most
 * 100 characters so its store record key `host-release.pkg.<name>` stays within the 128 a config key allows.
 */
export const isPackageName = t.cascade(t.isString(), [t.matchesRegExp(/^[a-z0-9][a-z0-9+.-]{0,99}$/)]);
/** A Debian package version (Debian Policy §5.6.12: `[epoch:]upstream[-revision]`, letters, digits, `. + ~ : -`). */
export const isPackageVersion = t.cascade(t.isString(), [t.matchesRegExp(/^[A-Za-z0-9][A-Za-z0-9.+~:-]{0,127}$/)]);
