// greentic-dispatcher: the HTTP reverse proxy in front of the revisions (traffic dial, sticky sessions, drain).

export { parseDispatcherArgs, USAGE } from './cli';
export type { ConfigListener, ConfigSource, FolderConfigSourceOptions } from './config-source';
export { createFolderConfigSource } from './config-source';
export type { AdminSnapshot, Dispatcher, DispatcherOptions, RevisionSnapshot } from './dispatcher';
export { startDispatcher } from './dispatcher';
export type { DispatcherErrorCode } from './errors';
export { DispatcherError, PROBLEMS } from './errors';
export type { RedisPinStore, RedisPinStoreOptions } from './redis-pin-store';
export { createRedisPinStore } from './redis-pin-store';
export type { StoreConfigSourceOptions } from './store-config-source';
export { createStoreConfigSource } from './store-config-source';
