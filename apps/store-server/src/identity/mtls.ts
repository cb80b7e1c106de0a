import type { TLSSocket } from 'node:tls';
import type { AccessGrant, AccessRule } from '../authorization';
import type { IdentityProvider, PeerCertificate } from './provider';

/** How client certificates map to actors and grants. */
export interface MtlsOptions {
  /** Grants per certificate common name (CN). A trusted certificate whose CN is not listed authenticates, with no grants. */
  readonly subjects: Readonly<
    Record<string, { readonly grants: readonly AccessGrant[]; readonly rules?: readonly AccessRule[] }>
  >;
}

function commonName(subject: Readonly<Record<string, string | readonly string[]>>): string | undefined {
  const cn = subject.CN;
  const value = Array.isArray(cn) ? cn[0] : cn;
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/**
 * Mutual TLS: a client certificate that chains to the server's configured CA proves the actor `mtls:<CN>`.
 * The TLS handshake does the cryptography (the server runs with `requestCert`); this maps the subject.
 *
 * @example
 * const mtls = mtlsProvider({ subjects: { 'deploy-bot': { grants: [{ role: 'operator', environments: 'zain-*' }] } } });
 */
export function mtlsProvider(options: MtlsOptions): IdentityProvider {
  return {
    name: 'mtls',
    async identify(request) {
      const cert = request.peerCertificate;
      if (cert === undefined) return { kind: 'not-mine' };
      if (!cert.authorized) return { kind: 'rejected', reason: 'client certificate is not signed by a trusted CA' };
      const cn = commonName(cert.subject);
      if (cn === undefined) return { kind: 'rejected', reason: 'client certificate has no subject CN' };
      const mapping = Object.hasOwn(options.subjects, cn) ? options.subjects[cn] : undefined;
      return {
        kind: 'authenticated',
        principal: { actor: `mtls:${cn}`, via: 'mtls', grants: mapping?.grants ?? [], rules: mapping?.rules ?? [] },
      };
    },
  };
}

/**
 * The peer certificate of a TLS socket (undefined on plain HTTP or when the client sent none).
 *
 * @example
 * const cert = peerCertificateOf(c.env.incoming.socket);
 */
export function peerCertificateOf(socket: unknown): PeerCertificate | undefined {
  const tls = socket as Partial<TLSSocket> | undefined;
  if (tls === undefined || typeof tls.getPeerCertificate !== 'function') return undefined;
  const cert = tls.getPeerCertificate();
  if (cert === null || cert === undefined || Object.keys(cert).length === 0) return undefined;
  return {
    subject: (cert.subject ?? {}) as unknown as Record<string, string | readonly string[]>,
    fingerprint256: cert.fingerprint256,
    authorized: tls.authorized === true,
  };
}
