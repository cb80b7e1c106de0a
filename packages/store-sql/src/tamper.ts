import type { StoredObjectName } from '@greentic/store-contract';
import type { StoreTamper } from '@greentic/store-contract/testing';
import type { SqlStore } from './sql-store';

/**
 * Hooks that damage a live SQL store's data behind its back, for the contract suite's tamper tests (and the HTTP
 * server's, which runs the same suite over a SQL store). Never use them on data you care about.
 *
 * @example
 * const tamper = sqlTamper(store);
 * await tamper.flipObjectByte({ kind: 'environment', key: 'local' });
 * (await store.verifyIntegrity()).corrupt // [{ kind: 'environment', key: 'local' }]
 */
export function sqlTamper(store: SqlStore): StoreTamper {
  return {
    editAuditEntry: (seq, fields) =>
      store.unsafeWrite(async (tx) => {
        const row = await tx.get('SELECT entry FROM audit WHERE seq = ?', [seq]);
        if (!row) throw new Error(`[store-sql] tamper: no audit entry ${seq}`);
        const entry = { ...(JSON.parse(String(row.entry)) as Record<string, unknown>), ...fields };
        await tx.run('UPDATE audit SET entry = ?, actor = ? WHERE seq = ?', [
          JSON.stringify(entry),
          String(entry.actor),
          seq,
        ]);
      }),
    deleteAuditEntry: (seq) =>
      store.unsafeWrite(async (tx) => {
        await tx.run('DELETE FROM audit WHERE seq = ?', [seq]);
      }),
    flipObjectByte: (object: StoredObjectName) =>
      store.unsafeWrite(async (tx) => {
        const row = await tx.get('SELECT value FROM objects WHERE kind = ? AND key = ?', [object.kind, object.key]);
        if (!row) throw new Error(`[store-sql] tamper: no object ${object.kind} ${object.key}`);
        const text = String(row.value);
        const at = Math.floor(text.length / 2);
        const flipped = `${text.slice(0, at)}${String.fromCharCode(text.charCodeAt(at) ^ 1)}${text.slice(at + 1)}`;
        await tx.run('UPDATE objects SET value = ? WHERE kind = ? AND key = ?', [flipped, object.kind, object.key]);
      }),
  };
}
