import type { GreenticStore } from '../contract';
import type { StoredObjectName } from '../errors';

/** What an implementation hands the contract suite for one test: a fresh, empty store plus optional hooks. */
export interface StoreHarness {
  readonly store: GreenticStore;
  /** Close the store and open the same data again (opening verifies integrity). Capability `reopen`. */
  reopen?(): Promise<GreenticStore>;
  /** Damage the stored data behind the store's back. Capability `tamper`. */
  readonly tamper?: StoreTamper;
  /** A path the store may write a backup file to (unique per call). */
  tempFile(name: string): string;
  /** Close everything and delete the data (files, schema). */
  destroy(): Promise<void>;
}

/** Hooks that damage stored data directly, to prove the store detects it. */
export interface StoreTamper {
  /** Overwrite fields of audit entry `seq` in place, leaving its hash as it was. */
  editAuditEntry(seq: number, fields: { readonly actor?: string; readonly detail?: string }): Promise<void>;
  /** Delete audit entry `seq`. */
  deleteAuditEntry(seq: number): Promise<void>;
  /** Flip one byte of a stored object's JSON, leaving its digest as it was. */
  flipObjectByte(object: StoredObjectName): Promise<void>;
}

export interface StoreCapabilities {
  /** The harness provides `tamper` (audit and object corruption tests). */
  readonly tamper?: boolean;
  /** The harness provides `reopen` (integrity verified on open). */
  readonly reopen?: boolean;
  /** The store supports `backup`/`restore` to files the test can name (the backup→restore drill). */
  readonly backup?: boolean;
}

export interface DescribeStoreOptions {
  /** Shown in the test names, e.g. `sqlite file` or `postgres`. */
  readonly name: string;
  /** A fresh, empty store for one test. */
  create(): Promise<StoreHarness>;
  readonly capabilities?: StoreCapabilities;
}
