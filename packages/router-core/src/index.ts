// @greentic/router-core: which revision serves this request. Scoped routing, trusted header, signed cookie,
// session pins, weighted random. Pure: the only I/O is behind the PinStore interface.

export { COARSE_CLOCK_MS, coarseNow } from './clock';
export type { MaybePromise, MemoryPinStore, MemoryPinStoreOptions, PinStore } from './pin-store';
export { createMemoryPinStore } from './pin-store';
export type { RandomSource } from './random-source';
export { createSeededRandom } from './random-source';
export type { RouteInput, Router, RouterOptions } from './router';
export { chooseRevision, chooseWeighted, createRouter, readCookie } from './router';
export type {
  Choice,
  ChoiceSource,
  CompiledDeployment,
  CompiledRevision,
  CompileResult,
  NoReadyRevisionChoice,
  NoRouteChoice,
  RoutedChoice,
  RoutingTable,
} from './routing-table';
export { compileRoutingTable } from './routing-table';
export type { ScopeInput } from './scope';
export { resolveDeployment } from './scope';
export type { CookieSigner, CookieSignerOptions } from './signed-cookie';
export { createCookieSigner } from './signed-cookie';
export type { TrustPolicy, TrustPolicyOptions, TrustPolicyResult } from './trust-policy';
export { createTrustPolicy } from './trust-policy';
