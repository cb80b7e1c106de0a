// @greentic/deployer-k8s/testing: the fake Kubernetes API server and sample environments for tests.

export type {
  FakeApiServer,
  FakeApiServerOptions,
  FakeObject,
  FakeRbacRule,
  FakeRequest,
  FakeUser,
} from './fake-apiserver';
export { fakeRulesOf, startFakeApiServer } from './fake-apiserver';
export type { SampleRevision } from './sample-environment';
export { sampleDesiredState, sampleEnvironment, sampleTarget } from './sample-environment';
