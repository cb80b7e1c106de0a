import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { matchesEnvironmentPattern, ruleAllows } from './access';

describe('matchesEnvironmentPattern', () => {
  it('treats * as any run of characters and everything else literally', () => {
    expect(matchesEnvironmentPattern('zain-*', 'zain-prod')).toBe(true);
    expect(matchesEnvironmentPattern('zain-*', 'acme-zain-prod')).toBe(false);
    expect(matchesEnvironmentPattern('*', 'anything')).toBe(true);
    expect(matchesEnvironmentPattern('a.b', 'axb')).toBe(false);
    expect(matchesEnvironmentPattern('local', 'local-2')).toBe(false);
  });

  it('a pattern without * matches exactly itself', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z0-9.-]{1,20}$/), fc.stringMatching(/^[a-z0-9.-]{1,20}$/), (p, e) => {
        expect(matchesEnvironmentPattern(p, e)).toBe(p === e);
      }),
    );
  });
});

describe('ruleAllows', () => {
  const rules = [{ environments: 'zain-*', actions: ['traffic.set', 'revision.*'] }];
  it('allows only listed actions in matching environments (deny by default)', () => {
    expect(ruleAllows(rules, 'zain-prod', 'traffic.set')).toBe(true);
    expect(ruleAllows(rules, 'zain-prod', 'revision.drain')).toBe(true);
    expect(ruleAllows(rules, 'zain-prod', 'config.set')).toBe(false);
    expect(ruleAllows(rules, 'acme-prod', 'traffic.set')).toBe(false);
    expect(ruleAllows([], 'zain-prod', 'traffic.set')).toBe(false);
    expect(ruleAllows([{ environments: '*', actions: ['*'] }], 'x', 'environment.delete')).toBe(true);
  });
});
