import { describeStore } from '@greentic/store-contract/testing';
import { postgresHarness, sqliteHarness } from './harness';

const capabilities = { tamper: true, reopen: true, backup: true } as const;

describeStore({ name: 'sqlite file', create: () => sqliteHarness('inline'), capabilities });
describeStore({ name: 'sqlite file, background commit sync', create: () => sqliteHarness('background'), capabilities });
describeStore({ name: 'postgres', create: postgresHarness, capabilities });
