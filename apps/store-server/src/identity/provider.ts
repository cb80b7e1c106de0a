import type { Principal } from '../authorization';

/** What identity providers may look at: the Authorization header and, over TLS, the peer certificate. */
export interface IdentityRequest {
  readonly authorization: string | undefined;
  readonly peerCertificate: PeerCertificate | undefined;
}

/** A TLS client certificate as the server saw it. `authorized` is true only when it chains to a trusted CA. */
export interface PeerCertificate {
  readonly subject: Readonly<Record<string, string | readonly string[]>>;
  readonly fingerprint256: string;
  readonly authorized: boolean;
}

/**
 * The outcome of one provider: the credentials were its kind and valid, its kind but invalid, or not its kind.
 * `reason` is for the audit trail and the 401 body: it never contains the credential itself.
 */
export type IdentityOutcome =
  | { readonly kind: 'authenticated'; readonly principal: Principal }
  | { readonly kind: 'rejected'; readonly reason: string }
  | { readonly kind: 'not-mine' };

/** One way to prove who a caller is. Adding a provider changes no route and no store code. */
export interface IdentityProvider {
  /** A short name for logs and audit (`token`, `oidc`, `mtls`). */
  readonly name: string;
  /** Verifies the request's credentials; never throws for bad credentials (returns `rejected`). */
  identify(request: IdentityRequest): Promise<IdentityOutcome>;
}

/**
 * Combines providers: the first that recognises the credentials decides; none → rejected.
 *
 * @example
 * const identity = chainIdentityProviders([tokens, oidc]);
 * const outcome = await identity.identify({ authorization: 'Bearer gtc_…', peerCertificate: undefined });
 */
export function chainIdentityProviders(providers: readonly IdentityProvider[]): IdentityProvider {
  return {
    name: providers.map((p) => p.name).join('+'),
    async identify(request) {
      for (const provider of providers) {
        const outcome = await provider.identify(request);
        if (outcome.kind !== 'not-mine') return outcome;
      }
      return {
        kind: 'rejected',
        reason:
          request.authorization === undefined && request.peerCertificate === undefined
            ? 'no credentials: send Authorization: Bearer <token>'
            : 'credentials not recognised by any identity provider',
      };
    },
  };
}

/** The token of an `Authorization: Bearer …` header, or undefined. */
export function bearerToken(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  const match = /^Bearer[ ]+([A-Za-z0-9._~+/=-]+)[ ]*$/i.exec(authorization);
  return match?.[1];
}
