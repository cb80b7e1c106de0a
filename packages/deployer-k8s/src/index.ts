// @greentic/deployer-k8s: the greentic.deployer.k8s env-pack — Restricted manifests, minimal RBAC, a typed cluster client.

export type { EndpointResolver, K8sDeployerOptions, K8sDeployerPack } from './deployer';
export { createDeployer, createK8sDeployer, phaseOf, planK8s } from './deployer';
export type { K8sObject, KindInfo, KnownKind } from './kinds';
export { KINDS, kindInfo, objectPath, PACK_ID } from './kinds';
export type { AccessProbe, ApplyResult, KubeClientOptions } from './kube-client';
export { FIELD_MANAGER, KubeClient } from './kube-client';
export type { KubeconfigSource, KubeTarget } from './kubeconfig';
export { loadKubeTarget, targetFor } from './kubeconfig';
export type { ManifestError, ManifestValidation } from './manifest-schema';
export { MANIFEST_SCHEMA_SOURCE, validateManifest } from './manifest-schema';
export type { PodSecurityLevel, PodSecurityReport, PodSecurityViolation } from './pod-security';
export { checkPodSecurity } from './pod-security';
export type { RenderOptions } from './render';
export {
  GENERATED_MARKER,
  LABELS,
  RUNTIME_CONFIG_DIR,
  RUNTIME_CONFIG_FILE,
  RUNTIME_CONFIG_MAP,
  renderManifests,
  renderObjects,
  renderWorkerObjects,
  routesFor,
  runtimeConfigMap,
  toYaml,
  workerEndpoint,
  workerName,
} from './render';
export type { FolderChanges } from './render-to-folder';
export { renderToFolder } from './render-to-folder';
export type { RbacRule, RbacSubject } from './rules-pack';
export {
  buildRulesPack,
  clusterRules,
  forbiddenProbes,
  NAMESPACE_RULES,
  parseSubject,
  probeRights,
  rbacObjects,
  requiredProbes,
  requirementsFor,
} from './rules-pack';
export type { K8sSettings } from './settings';
export { DEFAULT_SETTINGS, readSettings } from './settings';
