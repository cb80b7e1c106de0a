import { createRemoteJWKSet, type JWTPayload, jwtVerify } from 'jose';
import type { AccessGrant, Role } from '../authorization';
import { ROLES } from '../authorization';
import { bearerToken, type IdentityProvider } from './provider';

/** How to trust and read an OIDC access token. */
export interface OidcOptions {
  /** Expected `iss`. */
  readonly issuer: string;
  /** Expected `aud`. */
  readonly audience: string;
  /** The issuer's JWKS endpoint. */
  readonly jwksUrl: string;
  /** Claim holding the actor name (default `sub`); the actor becomes `oidc:<value>`. */
  readonly actorClaim?: string;
  /** Claim holding role names or groups (default `roles`). */
  readonly rolesClaim?: string;
  /** Maps a claim value (a group) to a grant; values that are role names map to that role by default. */
  readonly roleMap?: Readonly<Record<string, AccessGrant>>;
  /** Allowed clock skew in seconds (default 30). */
  readonly clockToleranceSeconds?: number;
}

function grantsFromClaims(payload: JWTPayload, options: OidcOptions): AccessGrant[] {
  const raw = payload[options.rolesClaim ?? 'roles'];
  const values = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(/[ ,]+/) : [];
  const grants: AccessGrant[] = [];
  for (const value of values) {
    if (typeof value !== 'string') continue;
    const mapped = options.roleMap?.[value];
    if (mapped !== undefined) grants.push(mapped);
    else if (options.roleMap === undefined && ROLES.includes(value as Role)) grants.push({ role: value as Role });
  }
  return grants;
}

/**
 * OIDC bearer tokens: a JWT verified against the issuer's JWKS (signature, `iss`, `aud`, `exp`/`nbf`),
 * its claims mapped to an actor and grants. A token without a mapped role authenticates but is allowed nothing.
 *
 * @example
 * const oidc = oidcProvider({ issuer: 'https://id.example', audience: 'greentic-store', jwksUrl: 'https://id.example/jwks' });
 */
export function oidcProvider(options: OidcOptions): IdentityProvider {
  const jwks = createRemoteJWKSet(new URL(options.jwksUrl), { timeoutDuration: 5000, cooldownDuration: 30_000 });
  return {
    name: 'oidc',
    async identify(request) {
      const token = bearerToken(request.authorization);
      // A JWT is three base64url parts; anything else belongs to another provider.
      if (token === undefined || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token)) {
        return { kind: 'not-mine' };
      }
      try {
        const { payload } = await jwtVerify(token, jwks, {
          issuer: options.issuer,
          audience: options.audience,
          clockTolerance: options.clockToleranceSeconds ?? 30,
        });
        const subject = payload[options.actorClaim ?? 'sub'];
        if (typeof subject !== 'string' || subject.length === 0 || subject.length > 200) {
          return { kind: 'rejected', reason: `OIDC token has no usable ${options.actorClaim ?? 'sub'} claim` };
        }
        return {
          kind: 'authenticated',
          principal: { actor: `oidc:${subject}`, via: 'oidc', grants: grantsFromClaims(payload, options), rules: [] },
        };
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        return { kind: 'rejected', reason: `OIDC token refused (${typeof code === 'string' ? code : 'invalid'})` };
      }
    },
  };
}
