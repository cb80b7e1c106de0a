import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { checkPodSecurity, type PodSecurityLevel } from './pod-security';

// A copy of ../shared/k8s/pod-security-fixtures (upstream kubernetes/pod-security-admission test data, Apache-2.0),
// kept inside the package so a fresh clone can run it.
const corpus = fileURLToPath(new URL('../test/fixtures/pod-security/', import.meta.url));

function fixtures(level: PodSecurityLevel, outcome: 'pass' | 'fail'): [string, unknown][] {
  const dir = `${corpus}${level}/${outcome}/`;
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => [f, parse(readFileSync(dir + f, 'utf8'))]);
}

describe('checkPodSecurity on the upstream corpus', () => {
  it('holds every fixture of both levels (148 pods)', () => {
    const total = (['baseline', 'restricted'] as const).flatMap((l) => [
      ...fixtures(l, 'pass'),
      ...fixtures(l, 'fail'),
    ]);
    expect(total.length).toBe(148);
  });

  for (const level of ['baseline', 'restricted'] as const) {
    describe(level, () => {
      it.each(fixtures(level, 'pass'))('accepts pass/%s', (_name, pod) => {
        const report = checkPodSecurity(pod, level);
        expect(report.violations).toEqual([]);
        expect(report.allowed).toBe(true);
      });
      it.each(fixtures(level, 'fail'))('rejects fail/%s for the check its name gives', (name, pod) => {
        const report = checkPodSecurity(pod, level);
        expect(report.allowed).toBe(false);
        // `capabilities_restricted2.yaml` exercises the check `capabilities_restricted`.
        const check = name.replace(/\d*\.yaml$/, '');
        expect(report.violations.map((v) => v.check.toLowerCase())).toContain(check);
      });
    });
  }

  it('names the check and the container that broke it', () => {
    const [, pod] = fixtures('restricted', 'fail').find(([f]) => f === 'runasuser1.yaml') ?? [];
    const report = checkPodSecurity(pod, 'restricted');
    expect(report.violations).toEqual([
      { check: 'runAsUser', message: 'container container1: runAsUser=0 is forbidden: use a non-zero numeric user' },
    ]);
  });

  it('a restricted-level failure of a Linux-only check is not a baseline failure', () => {
    const [, pod] = fixtures('restricted', 'fail').find(([f]) => f === 'allowprivilegeescalation0.yaml') ?? [];
    expect(checkPodSecurity(pod, 'baseline').allowed).toBe(true);
    expect(checkPodSecurity(pod, 'restricted').allowed).toBe(false);
  });
});
