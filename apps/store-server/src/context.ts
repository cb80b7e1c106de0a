import type { HttpBindings } from '@hono/node-server';
import type { ResolvedDeps } from './app';
import type { Principal } from './authorization';

/** The per-request variables every handler reads and writes (`c.get` / `c.set`). */
export interface StoreVariables {
  requestId: string;
  deps: ResolvedDeps;
  principal: Principal | undefined;
  /** The matched route pattern, for metrics and the access log (set by the handler). */
  route: string | undefined;
}

/**
 * What a handler sees of a request: the part of Hono's `Context` the server uses. Hono's context is one (requests
 * through `app.request()` and anything the route table does not take); the node listener's route table builds a
 * lighter one for the requests it answers itself (see `fast-path.ts`).
 */
export interface StoreContext {
  readonly req: {
    readonly method: string;
    /** The decoded path, without the query. */
    readonly path: string;
    /** A request header as the Fetch API's `Headers.get` gives it (repeated fields joined), or undefined. */
    header(name: string): string | undefined;
    /** The decoded path parameters. */
    param(): Readonly<Record<string, string>>;
    query(name: string): string | undefined;
    /** The body as a stream (only read when Node's IncomingMessage is absent, or its body is not declared). */
    readonly raw: { readonly body: ReadableStream<Uint8Array> | null };
  };
  /** Node bindings: absent under `app.request()`. */
  readonly env: Partial<HttpBindings> | undefined;
  get<K extends keyof StoreVariables>(key: K): StoreVariables[K];
  set<K extends keyof StoreVariables>(key: K, value: StoreVariables[K]): void;
}
