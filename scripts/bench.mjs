// Runs every package's benchmark (a `bench` script in its package.json) in one go, one after the other.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const roots = ['packages', 'apps'];
let ran = 0;
let failed = 0;
for (const root of roots) {
  if (!existsSync(root)) continue;
  for (const dir of readdirSync(root).sort()) {
    const pkgPath = join(root, dir, 'package.json');
    if (!existsSync(pkgPath)) continue;
    const pkg = JSON.parse(readFileSync(pkgPath, 'utf8'));
    if (!pkg.scripts?.bench) continue;
    console.log(`\n== bench: ${pkg.name}`);
    const r = spawnSync('pnpm', ['run', '--silent', 'bench'], { cwd: join(root, dir), stdio: 'inherit' });
    ran++;
    if (r.status !== 0) failed++;
  }
}
console.log(`\n${ran} benchmarks ran, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
