// @greentic/deployer-host-release: exact-commit releases on plain hosts over the system OpenSSH client (seed 002),
// package-pin capture, and the greentic.deployer.host-release deployer env-pack.

export { createConformanceFixtures, createHostFixtures } from './conformance-fixtures';
export type { HostDeployerConfig } from './deployer-pack';
export { createDeployer, hostTargetFromConfig, parseHostDeployerConfig, planHost } from './deployer-pack';
export type { ArchiveStream, ResolvedCommit } from './git-source';
export { archiveCommit, resolveCommit } from './git-source';
export type { HostSnapshot, ReleaseInfo, ReleaseStamp } from './host-probe';
export { probeHost } from './host-probe';
export type { NotAutomated, PackageAuditEntry, PackageCapture, PackagePin } from './package-pin';
export { capturePackage, promotePackage, readPackageAudit, rollbackPackage } from './package-pin';
export type { PromoteOptions, PromoteOutcome, PromotePlan, PromoteResult, VerifyReport } from './promote';
export { formatPromotePlan, promote, verifySnapshot } from './promote';
export type { PruneDecision, PruneOptions, PruneResult } from './prune';
export { decidePrune, pruneReleases } from './prune';
export type { ShaTier, SourceSha } from './release-names';
export { parseReleaseDirName, releaseDirName, resolveSourceSha } from './release-names';
export type { RollbackOptions, RollbackPlan, RollbackResult } from './rollback';
export { rollback } from './rollback';
export type { SmokeCheck, SmokeReport } from './smoke';
export { smoke } from './smoke';
export type { HostService, HostTarget, RemoteOptions, RemoteResult } from './ssh-transport';
export { closeHostConnection, PACK_ID, runRemote, shellQuote } from './ssh-transport';
export type { HostStatus, StatusOptions } from './status';
export { hostStatus } from './status';
export type { HostFault, Repo, TestHost } from './throwaway-host';
export { freePort, makeRepo, startTestHost } from './throwaway-host';
export type { HostDrift, TruthRecord } from './truth-record';
export { diffTruth, parseTruthRecord, truthFromSnapshot } from './truth-record';
