import type { RequestOptions } from 'node:https';
import { EnvPackError } from '@greentic/env-pack';
import { KubeConfig } from '@kubernetes/client-node';
import { PACK_ID } from './kinds';

/** Where and as whom the client talks to a cluster: the server URL plus what TLS and auth need. Holds secrets: never log it. */
export interface KubeTarget {
  readonly server: string;
  /** Extra request headers, e.g. `Authorization: Bearer …`. */
  readonly headers: Readonly<Record<string, string>>;
  readonly ca?: string | Buffer;
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  /** False only when the kubeconfig says `insecure-skip-tls-verify: true`. */
  readonly rejectUnauthorized?: boolean;
}

export interface KubeconfigSource {
  /** Path of a kubeconfig file; default: $KUBECONFIG, then ~/.kube/config, then in-cluster. */
  readonly path?: string;
  /** A kubeconfig as YAML text (takes precedence over `path`). */
  readonly yaml?: string;
  /** Context to use instead of `current-context`. */
  readonly context?: string;
  /** A bearer token that replaces the kubeconfig user's credentials (mode A: the minimal key under test). */
  readonly token?: string;
}

/**
 * Load a kubeconfig with @kubernetes/client-node's KubeConfig (contexts, tokens, exec plugins, client certificates,
 * CA bundles) and turn it into a {@link KubeTarget} for this package's own HTTP client.
 *
 * @example
 * const target = await loadKubeTarget({ path: process.env.GREENTIC_K8S_KUBECONFIG, context: 'kind-greentic' });
 */
export async function loadKubeTarget(source: KubeconfigSource = {}): Promise<KubeTarget> {
  const kc = new KubeConfig();
  try {
    if (source.yaml !== undefined) kc.loadFromString(source.yaml);
    else if (source.path !== undefined) kc.loadFromFile(source.path);
    else kc.loadFromDefault();
    if (source.context !== undefined) kc.setCurrentContext(source.context);
  } catch (e) {
    throw new EnvPackError(
      'preflight-failed',
      `cannot load kubeconfig ${source.path ?? '(default)'}${source.context ? ` context ${source.context}` : ''}: ${(e as Error).message}`,
      { pack: PACK_ID, cause: e },
    );
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) {
    const where = source.yaml !== undefined ? '(inline)' : (source.path ?? '(default)');
    const ctx = source.context ?? kc.getCurrentContext();
    throw new EnvPackError(
      'preflight-failed',
      `kubeconfig ${where}: context ${ctx || '(none)'} names no cluster; pass an existing context (${
        kc
          .getContexts()
          .map((c) => c.name)
          .join(', ') || 'the file has none'
      })`,
      { pack: PACK_ID },
    );
  }
  const opts: RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.headers ?? {})) if (typeof v === 'string') headers[k] = v;
  if (source.token !== undefined) headers.Authorization = `Bearer ${source.token}`;
  return {
    server: cluster.server.replace(/\/+$/, ''),
    headers,
    ...(opts.ca ? { ca: opts.ca as string | Buffer } : {}),
    ...(opts.cert && source.token === undefined ? { cert: opts.cert as string | Buffer } : {}),
    ...(opts.key && source.token === undefined ? { key: opts.key as string | Buffer } : {}),
    ...(opts.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}),
  };
}

/**
 * A target for a server given by URL and token alone (the fake API server, tests).
 *
 * @example
 * const target = targetFor('http://127.0.0.1:40123', 'deployer-token');
 */
export function targetFor(server: string, token?: string): KubeTarget {
  return { server: server.replace(/\/+$/, ''), headers: token ? { Authorization: `Bearer ${token}` } : {} };
}
