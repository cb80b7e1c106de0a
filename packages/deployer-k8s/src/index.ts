// @greentic/deployer-k8s: the greentic.deployer.k8s env-pack — Restricted manifests, minimal RBAC, a typed cluster client.

export type { PodSecurityLevel, PodSecurityReport, PodSecurityViolation } from './pod-security';
export { checkPodSecurity } from './pod-security';
