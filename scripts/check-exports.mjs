// Checks each publishable package's packed output: publint, then arethetypeswrong with the esm-only profile.
// Run after `pnpm build`: `pnpm check:exports`.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

let failed = 0;
for (const root of ['packages', 'apps']) {
  if (!existsSync(root)) continue;
  for (const dir of readdirSync(root).sort()) {
    const cwd = join(root, dir);
    if (!existsSync(join(cwd, 'package.json'))) continue;
    const pkg = JSON.parse(readFileSync(join(cwd, 'package.json'), 'utf8'));
    if (pkg.private || !pkg.exports) continue;
    for (const [cmd, args] of [
      ['publint', ['--strict']],
      ['attw', ['--pack', '.', '--profile', 'esm-only', '--format', 'table-flipped']],
    ]) {
      const r = spawnSync('pnpm', ['exec', cmd, ...args], { cwd, encoding: 'utf8' });
      const ok = r.status === 0;
      if (!ok) failed++;
      console.log(`${ok ? 'ok  ' : 'FAIL'} ${pkg.name}: ${cmd}`);
      if (!ok) console.log(`${r.stdout}${r.stderr}`);
    }
  }
}
process.exit(failed === 0 ? 0 : 1);
