import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, normalize, resolve, sep } from 'node:path';
import type { RenderedFile } from '@greentic/env-pack';
import type { CommandIO } from '../base-command';
import { CliError } from '../cli-error';
import { desiredState } from './common';
import { packModule } from './pack-module';

/** The marker gtc keeps in a render folder: the files it wrote, so stale ones can be removed and nothing else. */
const MARKER = '.greentic-render.json';

interface Marker {
  readonly environment: string;
  readonly files: Record<string, string>;
}

export async function renderEnvironment(io: CommandIO, environment: string, outDir: string): Promise<number> {
  const s = await io.session();
  const bound = await s.deployer(environment, io.key);
  if (!bound.pack.render || !bound.pack.capabilities.render) {
    throw new CliError('usage', `${bound.pack.id} (the deployer of ${environment}) has no declarative form to render`, {
      code: 'unsupported',
      hint: 'render works with deployers such as greentic.deployer.k8s',
    });
  }
  const { desired } = await desiredState(s, bound);
  const files = await bound.pack.render(bound.ctx, desired);
  const out = resolve(io.cwd, outDir);
  // A pack package may ship its own folder writer (it knows its files, e.g. by a marker line); else gtc keeps a
  // marker file listing what it wrote.
  const own = (await packModule(s.registry, bound.pack.id))?.mod.renderToFolder;
  if (typeof own === 'function') {
    const changes = (await (own as FolderWriter)(out, files)) as FolderChanges;
    report(
      io,
      environment,
      bound.pack.id,
      out,
      changes.added,
      changes.changed,
      changes.removed,
      changes.unchanged.length,
    );
    return 0;
  }
  mkdirSync(out, { recursive: true });
  const markerPath = join(out, MARKER);
  const before: Marker = existsSync(markerPath)
    ? (JSON.parse(readFileSync(markerPath, 'utf8')) as Marker)
    : { environment, files: {} };
  const added: string[] = [];
  const changed: string[] = [];
  const removed: string[] = [];
  const now: Record<string, string> = {};
  for (const f of files) {
    const rel = normalize(f.path);
    if (rel.startsWith('..') || rel.startsWith(sep) || rel === MARKER) {
      throw new CliError('failed', `${bound.pack.id} rendered a file outside the folder: ${f.path}`, {
        code: 'invalid-pack',
      });
    }
    const p = join(out, rel);
    const hash = createHash('sha256').update(f.content).digest('hex');
    now[rel] = hash;
    const existed = existsSync(p);
    if (existed && createHash('sha256').update(readFileSync(p)).digest('hex') === hash) continue;
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, f.content);
    (existed ? changed : added).push(rel);
  }
  for (const rel of Object.keys(before.files)) {
    if (rel in now) continue;
    rmSync(join(out, rel), { force: true });
    removed.push(rel);
  }
  writeFileSync(markerPath, `${JSON.stringify({ environment, files: now } satisfies Marker, null, 2)}\n`);
  report(io, environment, bound.pack.id, out, added, changed, removed, files.length - added.length - changed.length);
  return 0;
}

interface FolderChanges {
  readonly added: readonly string[];
  readonly changed: readonly string[];
  readonly removed: readonly string[];
  readonly unchanged: readonly string[];
}
type FolderWriter = (dir: string, files: readonly RenderedFile[]) => Promise<FolderChanges>;

function report(
  io: CommandIO,
  environment: string,
  packId: string,
  out: string,
  added: readonly string[],
  changed: readonly string[],
  removed: readonly string[],
  unchanged: number,
): void {
  if (io.json) {
    io.out.json({ environment, out, added, changed, removed, unchanged });
    return;
  }
  io.out.line(
    `rendered ${environment} with ${packId} into ${out}: ${added.length} added, ${changed.length} changed, ${removed.length} removed, ${unchanged} unchanged`,
  );
  for (const f of added) io.out.line(`  + ${f}`);
  for (const f of changed) io.out.line(`  ~ ${f}`);
  for (const f of removed) io.out.line(`  - ${f}`);
}
