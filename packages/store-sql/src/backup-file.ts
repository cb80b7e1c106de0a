import { randomUUID } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type AuditEntry, bytesDigest, canonicalJson } from '@greentic/deploy-spec';
import { type BackupManifest, type StoredObjectName, StoreError } from '@greentic/store-contract';
import type { StoreState } from './migrations';

// A logical backup: every table as JSON, taken inside one read transaction (a consistent snapshot), written
// atomically (temp file, fsync, rename), with a manifest of digests beside it. The same format serves SQLite
// and Postgres, so a backup of one restores into the other.

export interface BackupDocument {
  readonly format: 'greentic-store-backup/1';
  readonly schemaVersion: number;
  readonly state: StoreState;
  readonly objects: readonly {
    readonly kind: string;
    readonly key: string;
    readonly parent: string;
    readonly version: string;
    readonly digest: string;
    readonly value: unknown;
  }[];
  readonly audit: readonly { readonly seq: number; readonly entry: AuditEntry; readonly hash: string }[];
  readonly ledger: readonly {
    readonly actor: string;
    readonly key: string;
    readonly fingerprint: string;
    readonly requestId: string;
    readonly result: string;
    readonly createdMs: number;
    readonly gen: number;
  }[];
}

export function manifestPath(file: string): string {
  return `${file}.manifest.json`;
}

/** Write `text` to `file` durably and atomically: a reader sees the old file or the whole new one. */
async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.${randomUUID()}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(text, 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file).catch(async (e) => {
    await rm(tmp, { force: true });
    throw e;
  });
  const dir = await open(dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

export async function writeBackup(file: string, doc: BackupDocument): Promise<BackupManifest> {
  const text = JSON.stringify(doc);
  await writeAtomic(file, text);
  const manifest: BackupManifest = {
    format: 'greentic-store-backup/1',
    file,
    createdAt: new Date().toISOString(),
    schemaVersion: doc.schemaVersion,
    generation: doc.state.generation,
    auditHead: doc.state.headSeq > 0 ? { seq: doc.state.headSeq, hash: doc.state.headHash } : null,
    objects: Object.fromEntries(doc.objects.map((o) => [`${o.kind} ${o.key}`, o.digest])),
    fileDigest: bytesDigest(text),
  };
  await writeAtomic(manifestPath(file), JSON.stringify(manifest, null, 2));
  return manifest;
}

/**
 * Read a backup and verify it completely: the file matches its manifest, every object matches its digest and
 * the manifest's, and nothing is missing or extra. Throws `corrupt` naming what is wrong; changes nothing.
 */
export async function readBackup(file: string): Promise<{ manifest: BackupManifest; doc: BackupDocument }> {
  let manifestText: string;
  let text: string;
  try {
    manifestText = await readFile(manifestPath(file), 'utf8');
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new StoreError(
      'not-found',
      `[store-sql] backup ${file} or its manifest ${manifestPath(file)} cannot be read: ${(e as Error).message}`,
    );
  }
  const corrupt = (why: string, objects: StoredObjectName[] = [{ kind: 'backup', key: file }]) =>
    new StoreError('corrupt', `[store-sql] backup ${file}: ${why}; nothing was restored`, { objects });
  let manifest: BackupManifest;
  let doc: BackupDocument;
  try {
    manifest = JSON.parse(manifestText) as BackupManifest;
  } catch {
    throw corrupt('its manifest is not valid JSON');
  }
  if (manifest.format !== 'greentic-store-backup/1')
    throw corrupt(`unknown manifest format ${String(manifest.format)}`);
  const digest = bytesDigest(text);
  if (digest !== manifest.fileDigest)
    throw corrupt(`the file digest ${digest} does not match the manifest's ${manifest.fileDigest}`);
  try {
    doc = JSON.parse(text) as BackupDocument;
  } catch {
    throw corrupt('the file is not valid JSON');
  }
  const bad: StoredObjectName[] = [];
  const seen = new Set<string>();
  for (const o of doc.objects) {
    const name = `${o.kind} ${o.key}`;
    seen.add(name);
    const d = bytesDigest(canonicalJson(o.value));
    if (d !== o.digest || manifest.objects[name] !== d) bad.push({ kind: o.kind, key: o.key });
  }
  for (const name of Object.keys(manifest.objects)) {
    if (!seen.has(name)) {
      const i = name.indexOf(' ');
      bad.push({ kind: name.slice(0, i), key: name.slice(i + 1) });
    }
  }
  if (bad.length > 0)
    throw corrupt(`objects do not match their digests: ${bad.map((b) => `${b.kind} ${b.key}`).join(', ')}`, bad);
  if (doc.state.generation !== manifest.generation) throw corrupt('the generation does not match the manifest');
  return { manifest, doc };
}
