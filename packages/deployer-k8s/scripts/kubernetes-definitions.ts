// Builds JSON Schema definitions (draft-07, unknown fields rejected) for the Kubernetes kinds this pack renders,
// from the models @kubernetes/client-node generates from the published Kubernetes OpenAPI document: each model's
// `attributeTypeMap` gives the fields and their types, its `.d.ts` marks which fields are required.
// No npm package ships the Kubernetes JSON schemas themselves (kubernetes-models ships compiled validators that
// accept unknown fields), so this is the vendoring step; `schemas/kubernetes-definitions.json` is its output and a
// test pins it against the installed client version.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as k8s from '@kubernetes/client-node';

export const ROOT_MODELS = [
  'V1ClusterRole',
  'V1ClusterRoleBinding',
  'V1ConfigMap',
  'V1Deployment',
  'V1Namespace',
  'V1NetworkPolicy',
  'V1PodDisruptionBudget',
  'V1Role',
  'V1RoleBinding',
  'V1Service',
  'V1ServiceAccount',
] as const;

interface Attribute {
  readonly name: string;
  readonly baseName: string;
  readonly type: string;
  readonly format: string;
}
type Schema = Record<string, unknown>;

function modelsDir(): string {
  const require = createRequire(import.meta.url);
  // The package's main entry is dist/index.js; models live beside it.
  return join(dirname(require.resolve('@kubernetes/client-node')), 'gen', 'models');
}

function attributesOf(model: string): Attribute[] {
  const cls = (k8s as unknown as Record<string, { getAttributeTypeMap?: () => Attribute[] }>)[model];
  if (!cls?.getAttributeTypeMap) throw new Error(`@kubernetes/client-node has no model ${model}`);
  return cls.getAttributeTypeMap();
}

function requiredOf(model: string): string[] {
  const dts = readFileSync(join(modelsDir(), `${model}.d.ts`), 'utf8');
  return [...dts.matchAll(/^\s+'([A-Za-z0-9_$]+)':/gm)].map((m) => m[1] ?? '').sort();
}

function typeSchema(type: string, format: string, pending: string[]): Schema {
  const arr = /^Array<(.+)>$/.exec(type);
  if (arr?.[1]) return { type: 'array', items: typeSchema(arr[1], '', pending) };
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map?.[1]) return { type: 'object', additionalProperties: typeSchema(map[1], '', pending) };
  switch (type) {
    case 'string':
      return { type: 'string' };
    case 'boolean':
      return { type: 'boolean' };
    case 'number':
      return format === 'int32' || format === 'int64' ? { type: 'integer' } : { type: 'number' };
    case 'Date':
      return { type: 'string' };
    case 'IntOrString':
      return { anyOf: [{ type: 'integer' }, { type: 'string' }] };
    case 'any':
    case 'object':
      return {};
    default:
      if (!/^[A-Z][0-9A-Za-z]+$/.test(type)) throw new Error(`unhandled model type ${type}`);
      pending.push(type);
      return { $ref: `#/definitions/${type}` };
  }
}

/** The definitions for ROOT_MODELS and everything they reference, sorted by name. */
export function buildKubernetesDefinitions(): { source: string; definitions: Record<string, Schema> } {
  const require = createRequire(import.meta.url);
  const pkgPath = join(dirname(require.resolve('@kubernetes/client-node')), '..', 'package.json');
  const version = (JSON.parse(readFileSync(pkgPath, 'utf8')) as { version: string }).version;
  const definitions: Record<string, Schema> = {};
  const pending: string[] = [...ROOT_MODELS];
  while (pending.length > 0) {
    const model = pending.pop() as string;
    if (definitions[model]) continue;
    const properties: Record<string, Schema> = {};
    for (const a of attributesOf(model)) properties[a.baseName] = typeSchema(a.type, a.format, pending);
    const required = requiredOf(model);
    definitions[model] = {
      type: 'object',
      additionalProperties: false,
      properties: Object.fromEntries(Object.entries(properties).sort(([a], [b]) => (a < b ? -1 : 1))),
      ...(required.length > 0 ? { required } : {}),
    };
  }
  const sorted = Object.fromEntries(Object.entries(definitions).sort(([a], [b]) => (a < b ? -1 : 1)));
  return { source: `@kubernetes/client-node@${version}`, definitions: sorted };
}
