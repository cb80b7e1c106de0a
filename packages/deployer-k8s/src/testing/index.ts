// @greentic/deployer-k8s/testing: the fake Kubernetes API server and sample environments for tests.

export type { SampleRevision } from './sample-environment';
export { sampleDesiredState, sampleEnvironment, sampleTarget } from './sample-environment';
