import type { Permission, RulesPack } from '@greentic/deploy-spec';
import {
  type CredentialInput,
  type CredentialsApi,
  type CredentialsVerification,
  diffPermissions,
  EnvPackError,
  type PackContext,
} from '@greentic/env-pack';

// Credentials of the reference deployer. On one machine the "key" is a local grant: a JSON document
// `{ "subject": "...", "permissions": [Permission...] }` naming what the deployer may do on the host. Mode A
// verifies a grant holds exactly the requirements (missing AND extra); mode B reads a broader master grant once
// and emits the minimal grant as a reviewable rules pack. Other deployers copy this shape with real providers.

export const PACK_ID = 'greentic.deployer.local-process';

export function requirements(ctx: PackContext): Permission[] {
  return [
    { resource: 'process', verbs: ['signal', 'spawn'], scope: 'host' },
    { resource: `file:${ctx.stateDir}`, verbs: ['read', 'write'], scope: 'host' },
    { resource: 'net:127.0.0.1', verbs: ['connect', 'listen'], scope: 'host' },
  ];
}

interface Grant {
  readonly subject?: string;
  readonly permissions: Permission[];
}

async function readGrant(ctx: PackContext, input: CredentialInput, what: string): Promise<Grant> {
  let text = input.value;
  if (text === undefined && input.ref !== undefined) {
    if (!ctx.secrets) {
      throw new EnvPackError(
        'credentials',
        `${what} ${input.ref} needs a secrets pack in environment ${ctx.environment.name}; attach one (slots.secrets)`,
        { pack: PACK_ID },
      );
    }
    text = await ctx.secrets.resolve(input.ref);
  }
  const name = input.ref ?? 'given in memory';
  if (text === undefined) {
    throw new EnvPackError('credentials', `${what} is empty: pass a secret:// reference or a value`, { pack: PACK_ID });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Never echo the text: it is a credential.
    throw new EnvPackError(
      'credentials',
      `${what} (${name}) is not JSON; a local grant is {"subject": "...", "permissions": [...]}`,
      { pack: PACK_ID },
    );
  }
  const p = parsed as Partial<Grant>;
  if (!p || typeof p !== 'object' || !Array.isArray(p.permissions) || !p.permissions.every(isPermission)) {
    throw new EnvPackError(
      'credentials',
      `${what} (${name}) has no valid "permissions" list of { resource, verbs, scope }`,
      { pack: PACK_ID },
    );
  }
  return { permissions: p.permissions, ...(typeof p.subject === 'string' ? { subject: p.subject } : {}) };
}

function isPermission(x: unknown): x is Permission {
  const p = x as Permission;
  return (
    !!p &&
    typeof p.resource === 'string' &&
    typeof p.scope === 'string' &&
    Array.isArray(p.verbs) &&
    p.verbs.every((v) => typeof v === 'string')
  );
}

export const credentials: CredentialsApi = {
  requirements,
  async verify(ctx, credential): Promise<CredentialsVerification> {
    const grant = await readGrant(ctx, credential, 'credential');
    const { missing, extra } = diffPermissions(requirements(ctx), grant.permissions);
    return {
      ok: missing.length === 0 && extra.length === 0,
      ...(grant.subject !== undefined ? { subject: grant.subject } : {}),
      missing,
      extra,
    };
  },
  async bootstrap(ctx, master): Promise<RulesPack> {
    const grant = await readGrant(ctx, master, 'master credential');
    const need = requirements(ctx);
    const { missing } = diffPermissions(need, grant.permissions);
    if (missing.length > 0) {
      throw new EnvPackError(
        'credentials',
        `master credential lacks ${missing.map((m) => `${m.resource}:${m.verbs.join(',')}`).join('; ')}; it cannot derive the minimal grant`,
        { pack: PACK_ID, details: { missing } },
      );
    }
    const minimal = { subject: `greentic-deployer@${ctx.environment.name}`, permissions: need };
    return {
      environment: ctx.environment.name,
      pack: PACK_ID,
      generatedAt: new Date().toISOString(),
      permissions: need,
      files: [
        {
          path: 'local-process-grant.json',
          mediaType: 'application/json',
          content: `${JSON.stringify(minimal, null, 2)}\n`,
        },
      ],
    };
  },
};
