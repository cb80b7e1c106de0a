import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { contentDigest } from './canonical-json';
import type { SchemaName } from './model';
import { formatErrors, validate } from './validate';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const AT = '2026-11-23T10:00:00Z';

// A valid example of every object type, each then broken in one way a user could plausibly break it.
const VALID: Record<SchemaName, unknown> = {
  environment: {
    name: 'zain-prod',
    slots: { deployer: { id: 'greentic.deployer.k8s', version: '1.0.0' }, secrets: { id: 'greentic.secrets.file' } },
    config: { region: 'me-central-1', replicas: 2, debug: false },
    trustRoot: { keys: [{ id: 'k1', algorithm: 'ed25519', publicKey: `${'A'.repeat(43)}=` }] },
  },
  'pack-ref': { id: 'greentic.deployer.local-process' },
  bundle: {
    id: 'support-bot',
    version: '1.4.0',
    digest: DIGEST,
    capabilities: ['greentic.cap.http'],
    secrets: ['secret://local/openai/api-key'],
    runtime: ['runtime://lb/public-url'],
    launch: { command: ['node', 'server.js'], healthPath: '/healthz' },
  },
  deployment: {
    environment: 'zain-prod',
    name: 'support',
    tenant: 'zain',
    billingCustomer: 'zain-telecom',
    bundleId: 'support-bot',
  },
  revision: {
    environment: 'zain-prod',
    deployment: 'support',
    id: 'r7',
    bundle: { id: 'support-bot', version: '1.4.0', digest: DIGEST },
    packConfig: { 'greentic.deployer.k8s': { replicas: 2 } },
    secretRefs: ['secret://local/openai/api-key'],
    state: 'ready',
    createdAt: AT,
    health: { passed: true, checkedAt: AT },
  },
  'traffic-split': {
    environment: 'zain-prod',
    deployment: 'support',
    entries: [
      { revision: 'r7', weight: 9000 },
      { revision: 'r8', weight: 1000 },
    ],
  },
  credentials: {
    environment: 'zain-prod',
    pack: 'greentic.deployer.k8s',
    mode: 'A',
    requirements: [{ resource: 'apps/deployments', verbs: ['get', 'patch'], scope: 'namespace' }],
  },
  'rules-pack': {
    environment: 'zain-prod',
    pack: 'greentic.deployer.k8s',
    generatedAt: AT,
    permissions: [{ resource: 'apps/deployments', verbs: ['get'], scope: 'namespace' }],
    files: [{ path: 'rbac/role.yaml', mediaType: 'application/yaml', content: 'kind: Role\n' }],
  },
  'audit-entry': {
    seq: 1,
    at: AT,
    actor: 'alice@example.com',
    environment: 'zain-prod',
    action: 'traffic.set',
    target: 'zain-prod/support',
    outcome: 'applied',
    requestId: 'req-1',
    before: null,
    after: DIGEST,
    prevHash: DIGEST,
    hash: DIGEST,
  },
  'environment-manifest': {
    apiVersion: 'greentic.ai/v1',
    kind: 'Environment',
    name: 'local',
    slots: { deployer: { id: 'greentic.deployer.local-process' } },
    deployments: [
      {
        name: 'support',
        tenant: 'acme',
        billingCustomer: 'acme',
        bundleId: 'hello-worker',
        revisions: [{ id: 'r1', bundle: { id: 'hello-worker', version: '1.0.0', digest: DIGEST } }],
        traffic: [{ revision: 'r1', weight: 10000 }],
      },
    ],
  },
  'runtime-config': {
    environment: 'local',
    generation: 3,
    deployments: [
      {
        name: 'support',
        tenant: 'acme',
        match: { hosts: ['support.acme.test'], pathPrefixes: ['/support'] },
        revisions: [
          { id: 'r1', state: 'ready', endpoint: 'http://127.0.0.1:41234', weight: 10000 },
          { id: 'r0', state: 'draining', endpoint: 'http://127.0.0.1:41233', weight: 0 },
        ],
      },
    ],
  },
};

function withChange(name: SchemaName, change: (v: Record<string, any>) => void): unknown {
  const copy = structuredClone(VALID[name]) as Record<string, any>;
  change(copy);
  return copy;
}

const BAD: Array<[SchemaName, string, (v: Record<string, any>) => void, string, RegExp]> = [
  [
    'environment',
    'upper-case name',
    (v) => {
      v.name = 'Zain_Prod';
    },
    '/name',
    /must be an environment name as a DNS-1123 label.*got "Zain_Prod"/,
  ],
  [
    'environment',
    'unknown slot',
    (v) => {
      v.slots.router = { id: 'greentic.router.x' };
    },
    '/slots/router',
    /not a known property; allowed here: deployer, secrets, telemetry, sessions, state/,
  ],
  [
    'environment',
    'secret-looking config object',
    (v) => {
      v.config.db = { password: 'x' };
    },
    '/config/db',
    /must be a string, number or boolean/,
  ],
  [
    'pack-ref',
    'pack id without dots',
    (v) => {
      v.id = 'k8s';
    },
    '/id',
    /must be an env-pack id as a dotted name.*got "k8s"/,
  ],
  [
    'bundle',
    'version not semver',
    (v) => {
      v.version = '1.4';
    },
    '/version',
    /must be a semantic version.*got "1.4"/,
  ],
  [
    'bundle',
    'digest not sha256',
    (v) => {
      v.digest = 'md5:abc';
    },
    '/digest',
    /must be a content digest of the form sha256:<64 lowercase hex characters>, got "md5:abc"/,
  ],
  [
    'bundle',
    'secret value instead of reference',
    (v) => {
      v.secrets = ['sk-live-123'];
    },
    '/secrets/0',
    /must be a secret reference of the form secret:\/\/<store>\/<name>/,
  ],
  [
    'bundle',
    'missing capabilities',
    (v) => {
      delete v.capabilities;
    },
    '/capabilities',
    /is required/,
  ],
  [
    'deployment',
    'tenant with spaces',
    (v) => {
      v.tenant = 'zain telecom';
    },
    '/tenant',
    /must be a tenant name as a DNS-1123 label/,
  ],
  [
    'revision',
    'unknown state',
    (v) => {
      v.state = 'running';
    },
    '/state',
    /must be one of the revision states staged, warming, ready, draining, archived, failed, got "running"/,
  ],
  [
    'revision',
    'bad pack config key',
    (v) => {
      v.packConfig = { K8S: {} };
    },
    '/packConfig/K8S',
    /keys must be env-pack ids/,
  ],
  [
    'traffic-split',
    'fractional weight',
    (v) => {
      v.entries[1].weight = 12.5;
    },
    '/entries/1/weight',
    /^must be an integer number of basis points \(0–10000\), got 12.5$/,
  ],
  [
    'traffic-split',
    'weight above 10000',
    (v) => {
      v.entries[0].weight = 10001;
    },
    '/entries/0/weight',
    /integer number of basis points \(0–10000\), got 10001/,
  ],
  [
    'traffic-split',
    'empty entries',
    (v) => {
      v.entries = [];
    },
    '/entries',
    /must have at least 1 items/,
  ],
  [
    'credentials',
    'mode C',
    (v) => {
      v.mode = 'C';
    },
    '/mode',
    /must be mode A .* or B/,
  ],
  [
    'credentials',
    'empty verbs',
    (v) => {
      v.requirements[0].verbs = [];
    },
    '/requirements/0/verbs',
    /at least 1 items/,
  ],
  [
    'rules-pack',
    'path escaping the folder',
    (v) => {
      v.files[0].path = '../etc/passwd';
    },
    '/files/0/path',
    /must be a relative file path without \.\. segments/,
  ],
  [
    'audit-entry',
    'sequence zero',
    (v) => {
      v.seq = 0;
    },
    '/seq',
    /must be a positive integer sequence number, got 0/,
  ],
  [
    'audit-entry',
    'bad timestamp',
    (v) => {
      v.at = 'yesterday';
    },
    '/at',
    /must be an RFC 3339 timestamp.*got "yesterday"/,
  ],
  [
    'environment-manifest',
    'wrong apiVersion',
    (v) => {
      v.apiVersion = 'v2';
    },
    '/apiVersion',
    /must be the manifest version greentic.ai\/v1, got "v2"/,
  ],
  [
    'environment-manifest',
    'typo in a deployment field',
    (v) => {
      v.deployments[0].tennant = 'x';
    },
    '/deployments/0/tennant',
    /not a known property; allowed here: name, tenant/,
  ],
  [
    'runtime-config',
    'staged revision in the router config',
    (v) => {
      v.deployments[0].revisions[0].state = 'staged';
    },
    '/deployments/0/revisions/0/state',
    /must be ready or draining \(only those are routable\), got "staged"/,
  ],
];

describe('validate', () => {
  it.each(Object.keys(VALID) as SchemaName[])('accepts a valid %s', (name) => {
    const r = validate(name, VALID[name]);
    expect(r.ok ? [] : r.errors).toEqual([]);
  });

  it.each(BAD)('refuses a %s with %s, naming the path and the fix', (name, _what, change, path, message) => {
    const r = validate(name, withChange(name, change));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const hit = r.errors.find((e) => e.path === path);
    expect(hit, formatErrors(r.errors)).toBeDefined();
    expect(hit?.message).toMatch(message);
  });

  it('covers every object type with at least one bad fixture', () => {
    expect(new Set(BAD.map(([n]) => n))).toEqual(new Set(Object.keys(VALID)));
  });

  it('reports every problem at once, not just the first', () => {
    const r = validate('deployment', {
      environment: 'BAD',
      name: 'support',
      tenant: '-x',
      billingCustomer: '',
      bundleId: 'b',
    });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.map((e) => e.path).sort()).toEqual(['/billingCustomer', '/environment', '/tenant']);
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.anything(), (input) => {
        for (const name of Object.keys(VALID) as SchemaName[]) {
          const r = validate(name, input);
          if (!r.ok) for (const e of r.errors) expect(e.message.length).toBeGreaterThan(5);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('contentDigest', () => {
  it('is independent of key order and whitespace', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (obj) => {
        const reversed = Object.fromEntries(Object.entries(obj).reverse());
        expect(contentDigest(reversed)).toBe(contentDigest(obj));
      }),
    );
  });

  it('gives the known digest for a fixed value on every machine', () => {
    // sha256 of the RFC 8785 form '{"a":[1,"x"],"b":true}'
    expect(contentDigest({ b: true, a: [1, 'x'] })).toBe(
      'sha256:c817ea2211dc960ff318c03b8414e1c9f63f6010af61d11cca0cf7f920ac9dae',
    );
  });
});
