import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capturePackage, promotePackage, readPackageAudit, rollbackPackage } from '../src/index';
import { freePort, startTestHost, type TestHost } from '../src/throwaway-host';

let host: TestHost;
beforeAll(async () => {
  host = await startTestHost();
});
afterAll(async () => {
  await host?.stop();
});

describe('package pin (archetype B)', () => {
  it('captures the installed version and the pinned binary into a hash-chained audit log, noting changes', async () => {
    const t = host.target(join(host.dir, 'pkg-root'), await freePort());
    const log = join(host.dir, 'pins.jsonl');
    const dpkgFormat = ['-f=$', '{Version}'].join(''); // dpkg's own ${Version} field syntax, not a JS template
    const version = execFileSync('dpkg-query', ['-W', dpkgFormat, 'openssh-server'], { encoding: 'utf8' });
    const first = await capturePackage(t, { package: 'openssh-server', binary: '/usr/sbin/sshd' }, { auditLog: log });
    expect(first.capture).toMatchObject({ package: 'openssh-server', version, resolvedBinary: '/usr/sbin/sshd' });
    expect(first.capture.binarySha256).toMatch(/^[0-9a-f]{64}$/);
    expect(first.changed).toEqual(['first capture']);

    // a pin re-pointed through a symlink, and a version command that reports something else
    const link = join(host.dir, 'agent-bin');
    execFileSync('ln', ['-sfn', '/usr/bin/ssh', link]);
    const second = await capturePackage(
      t,
      { package: 'openssh-server', binary: link, versionCommand: 'echo 9.9-test' },
      { auditLog: log },
    );
    expect(second.capture.resolvedBinary).toBe('/usr/bin/ssh');
    expect(second.changed.join('\n')).toMatch(/version: .* → 9\.9-test/);
    expect(second.changed.join('\n')).toContain('resolvedBinary: /usr/sbin/sshd → /usr/bin/ssh');
    expect((await readPackageAudit(log)).map((e) => e.seq)).toEqual([1, 2]);

    // editing a recorded line breaks the chain and is named
    const lines = readFileSync(log, 'utf8').split('\n');
    writeFileSync(log, [lines[0]!.replace(version, '0.0-forged'), ...lines.slice(1)].join('\n'));
    await expect(readPackageAudit(log)).rejects.toThrow(/line 1 was edited/);
  });

  it('promote and rollback of a package say honestly they are not automated, and what they would do', async () => {
    const t = host.target(join(host.dir, 'pkg-root2'), await freePort());
    const p = promotePackage(t, { package: 'agent', binary: '/usr/local/bin/agent' }, '1.4.2');
    expect(p.outcome).toBe('not-automated');
    expect(p.lines[0]).toContain('NOT AUTOMATED YET — nothing was changed');
    expect(p.wouldDo.join('\n')).toContain('apt-get install agent=1.4.2');
    const r = rollbackPackage(t, { package: 'agent' });
    expect(r.wouldDo[0]).toContain('last good capture');
  });

  it('refuses a package name that is not one', async () => {
    const t = host.target(join(host.dir, 'pkg-root3'), await freePort());
    await expect(
      capturePackage(t, { package: 'x; rm -rf /' }, { auditLog: join(host.dir, 'x.jsonl') }),
    ).rejects.toThrow(/not a Debian package name/);
  });
});
