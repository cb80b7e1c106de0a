// @greentic/store-contract/testing: the contract suite every store implementation runs (imports vitest).

export { describeStore } from './describe-store';
export type { DescribeStoreOptions, StoreCapabilities, StoreHarness, StoreTamper } from './harness';
