// greentic.deployer.local-process: the reference deployer. Each revision runs as a real OS process on this machine.

export type { LocalProcessFixtureOptions, LocalProcessFixtures } from './conformance-fixtures';
export { createConformanceFixtures } from './conformance-fixtures';
export { PACK_ID } from './credentials';
export type { LocalProcessConfig } from './deployer';
export { createDeployer, secretEnvName } from './deployer';
export { plan } from './plan';
