import { type FSWatcher, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DispatcherError } from './errors';

/** Receives what a config source reads. */
export interface ConfigListener {
  /** A new document (parsed JSON, not yet validated) read from `origin`. */
  onConfig(document: unknown, origin: string): void;
  /** Reading or parsing failed; the dispatcher keeps the config it has. */
  onError(error: DispatcherError): void;
}

/** Where the runtime config comes from: a file/folder (ConfigMap mount), the store, … */
export interface ConfigSource {
  /** Human-readable origin for logs, e.g. `folder /etc/greentic/runtime-config`. */
  readonly description: string;
  /** Start following the source; resolves after the first read attempt (delivered or failed). */
  start(listener: ConfigListener): Promise<void>;
  /** Stop following; no callback runs after the returned promise resolves. */
  close(): Promise<void>;
}

/** Options of the folder source. */
export interface FolderConfigSourceOptions {
  /** The folder holding the config (a Kubernetes ConfigMap mount, or `<stateDir>/runtime-config`). */
  readonly dir: string;
  /** The file inside it (default `runtime-config.json`). */
  readonly fileName?: string;
  /** Safety-net re-read interval in ms in case a watch event is missed (default 1000). */
  readonly pollMs?: number;
}

/**
 * Follow a config file in a folder. Writers replace the file atomically (tmp + rename, or Kubernetes swapping
 * the `..data` symlink), so every read sees a whole document. The folder is watched (`fs.watch`), events are
 * coalesced, and a slow poll catches anything a watch missed; a document is delivered only when its text
 * changed.
 *
 * @example
 * const source = createFolderConfigSource({ dir: '/var/lib/greentic/runtime-config' });
 * await source.start({ onConfig: (doc) => console.log(doc), onError: (e) => console.error(e.message) });
 */
export function createFolderConfigSource(options: FolderConfigSourceOptions): ConfigSource {
  const file = join(options.dir, options.fileName ?? 'runtime-config.json');
  const pollMs = options.pollMs ?? 1000;
  let watcher: FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  let poll: NodeJS.Timeout | undefined;
  let lastText: string | undefined;
  let lastError: string | undefined;
  let closed = false;
  let reading: Promise<void> = Promise.resolve();
  let listener: ConfigListener | undefined;

  const readOnce = async (): Promise<void> => {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code ?? 'error';
      report(`cannot read ${file} (${code}); write the runtime config there`, cause);
      return;
    }
    if (closed || text === lastText) return;
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (cause) {
      report(`${file} is not JSON (${(cause as Error).message}); write a whole document atomically (tmp + rename)`);
      return;
    }
    lastText = text;
    lastError = undefined;
    listener?.onConfig(doc, file);
  };
  const report = (message: string, cause?: unknown) => {
    // Say it once per distinct problem, not once per poll.
    if (closed || message === lastError) return;
    lastError = message;
    listener?.onError(new DispatcherError('config-unreadable', message, { cause }));
  };
  const schedule = () => {
    if (closed || timer !== undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      reading = reading.then(readOnce);
    }, 10);
  };

  return {
    description: `folder ${options.dir}`,
    async start(l) {
      listener = l;
      try {
        watcher = watch(options.dir, { persistent: false }, schedule);
        watcher.on('error', () => schedule());
      } catch {
        // The folder may not exist yet; the poll below picks the file up when it appears.
      }
      poll = setInterval(schedule, pollMs);
      poll.unref();
      reading = reading.then(readOnce);
      await reading;
    },
    async close() {
      closed = true;
      watcher?.close();
      if (timer !== undefined) clearTimeout(timer);
      if (poll !== undefined) clearInterval(poll);
      await reading;
    },
  };
}
