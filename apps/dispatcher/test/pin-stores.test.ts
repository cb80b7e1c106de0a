import { randomUUID } from 'node:crypto';
import { createMemoryPinStore } from '@greentic/router-core';
import { createRedisPinStore, type RedisPinStore } from '../src/index';
import { describePinStore } from './pin-store-contract';

describePinStore(
  'in-memory (router-core)',
  () => createMemoryPinStore(),
  async () => {},
);

describePinStore(
  'Redis (real Redis at 127.0.0.1:6379)',
  () => createRedisPinStore({ url: 'redis://127.0.0.1:6379', keyPrefix: `greentic:test:${randomUUID()}:` }),
  async (store) => {
    await (store as RedisPinStore).clear();
    await (store as RedisPinStore).close();
  },
);
