import { describeStore } from '@greentic/store-contract/testing';
import { httpSqliteHarness } from './harness';

// The store contract, over HTTP (client → real server on port 0 → SQLite file).
describeStore({
  name: 'http over sqlite',
  create: httpSqliteHarness,
  capabilities: { tamper: true, reopen: true, backup: true },
});
