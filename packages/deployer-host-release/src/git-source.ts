import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { promisify } from 'node:util';
import { EnvPackError } from '@greentic/env-pack';
import { isFullSha } from './release-names';
import { PACK_ID } from './ssh-transport';

const run = promisify(execFile);

/** The exact commit a worktree ref names, and whether the worktree has changes `git archive` will NOT ship. */
export interface ResolvedCommit {
  readonly sha: string;
  readonly ref: string;
  readonly worktree: string;
  readonly dirty: boolean;
}

/**
 * Resolve `ref` (default `HEAD`) of a git worktree to its exact 40-hex commit with `git rev-parse`.
 *
 * @example
 * const { sha, dirty } = await resolveCommit('/src/agent', 'HEAD');
 */
export async function resolveCommit(worktree: string, ref = 'HEAD'): Promise<ResolvedCommit> {
  if (ref.startsWith('-')) {
    throw new EnvPackError('refused', `git ref ${JSON.stringify(ref)} must not start with "-"`, { pack: PACK_ID });
  }
  let sha: string;
  try {
    const r = await run('git', ['-C', worktree, 'rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
    sha = r.stdout.trim();
  } catch (e) {
    throw new EnvPackError(
      'refused',
      `cannot resolve ${JSON.stringify(ref)} to a commit in the git worktree ${worktree}: check the path and the ref (git rev-parse ${ref})`,
      { pack: PACK_ID, cause: e },
    );
  }
  if (!isFullSha(sha)) {
    throw new EnvPackError('failed', `git rev-parse in ${worktree} answered ${JSON.stringify(sha)}, not a commit id`, {
      pack: PACK_ID,
    });
  }
  let dirty = false;
  try {
    const s = await run('git', ['-C', worktree, 'status', '--porcelain', '--untracked-files=no']);
    dirty = s.stdout.trim().length > 0;
  } catch {
    dirty = false; // a bare repository has no working tree to be dirty
  }
  return { sha, ref, worktree, dirty };
}

/** A running `git archive <sha>` whose tar stream is hashed while it flows. */
export interface ArchiveStream {
  readonly stream: Transform;
  /** Resolves when git exits: the sha256 and byte count of everything it wrote; rejects when git failed. */
  readonly done: Promise<{ readonly sha256: string; readonly bytes: number }>;
  kill(): void;
}

/**
 * Stream `git archive --format=tar <sha>` from a worktree, hashing it on the way (the host checks the digest
 * before it unpacks, so a cut-short transfer is never unpacked).
 *
 * @example
 * const a = archiveCommit('/src/agent', sha); a.stream.pipe(sshStdin); const { sha256 } = await a.done;
 */
export function archiveCommit(worktree: string, sha: string): ArchiveStream {
  const child = spawn('git', ['-C', worktree, 'archive', '--format=tar', sha], { stdio: ['ignore', 'pipe', 'pipe'] });
  const hash = createHash('sha256');
  let bytes = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      bytes += chunk.length;
      cb(null, chunk);
    },
  });
  const err: Buffer[] = [];
  child.stderr.on('data', (b: Buffer) => err.push(b));
  child.stdout.pipe(stream);
  const done = new Promise<{ sha256: string; bytes: number }>((resolve, reject) => {
    child.on('error', (e) =>
      reject(new EnvPackError('preflight-failed', `cannot run git: ${e.message}; install git`, { pack: PACK_ID })),
    );
    child.on('close', (code) => {
      if (code === 0) resolve({ sha256: hash.digest('hex'), bytes });
      else
        reject(
          new EnvPackError(
            'failed',
            `git archive ${sha} in ${worktree} failed: ${Buffer.concat(err).toString('utf8').trim() || `exit ${code}`}`,
            { pack: PACK_ID },
          ),
        );
    });
  });
  return { stream, done, kill: () => child.kill('SIGKILL') };
}
