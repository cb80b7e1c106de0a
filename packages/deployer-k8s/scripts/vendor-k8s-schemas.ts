// Writes schemas/kubernetes-definitions.json (see kubernetes-definitions.ts). Run after upgrading
// @kubernetes/client-node: `pnpm run vendor-schemas`.
import { writeFileSync } from 'node:fs';
// @ts-expect-error TS5097: node runs this file directly (type stripping), which needs the explicit extension.
import { buildKubernetesDefinitions } from './kubernetes-definitions.ts';

const out = new URL('../schemas/kubernetes-definitions.json', import.meta.url);
writeFileSync(out, `${JSON.stringify(buildKubernetesDefinitions(), null, 2)}\n`);
console.log(`wrote ${out.pathname}`);
