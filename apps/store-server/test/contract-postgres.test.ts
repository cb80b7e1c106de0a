import { describeStore } from '@greentic/store-contract/testing';
import { httpPostgresHarness } from './harness';

// The store contract, over HTTP (client → real server on port 0 → Postgres schema).
describeStore({
  name: 'http over postgres',
  create: httpPostgresHarness,
  capabilities: { tamper: true, reopen: true, backup: true },
});
