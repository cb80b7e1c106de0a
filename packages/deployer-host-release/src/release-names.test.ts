import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseReleaseDirName, releaseDirName, resolveSourceSha } from './release-names';
import { shellQuote } from './ssh-transport';

const hex = (n: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n });
const label = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,20}$/);

describe('resolveSourceSha', () => {
  it('takes the first tier that answers: .release.json, then git, then the directory name', () => {
    fc.assert(
      fc.property(hex(40), hex(40), hex(40), label, fc.boolean(), fc.boolean(), (a, b, c, l, withJson, withGit) => {
        const r = resolveSourceSha({
          releaseJsonSha: withJson ? a : undefined,
          gitHead: withGit ? b : undefined,
          dirName: releaseDirName(c, l),
        });
        const [sha, tier] = withJson ? [a, 'release-json'] : withGit ? [b, 'git'] : [c, 'dir-name'];
        expect(r.sha).toBe(sha);
        expect(r.tier).toBe(tier);
        // every other tier that answered with a different commit is reported
        const others = [withJson && withGit ? b : undefined, c].filter((x) => x !== undefined && x !== sha);
        expect(r.disagreements.map((d) => d.sha)).toEqual(withJson || withGit ? others : []);
      }),
    );
  });

  it('answers unknown when no tier can tell, and never takes a label for a SHA', () => {
    expect(resolveSourceSha({ releaseJsonSha: undefined, gitHead: undefined, dirName: 'checkout-by-hand' })).toEqual({
      sha: undefined,
      tier: 'unknown',
      disagreements: [],
    });
    expect(resolveSourceSha({ releaseJsonSha: 'not-a-sha', gitHead: 'zz', dirName: 'v1' }).tier).toBe('unknown');
  });

  it('recovers sha and label from every <sha>-<label> name, abbreviated SHAs included', () => {
    fc.assert(
      fc.property(fc.integer({ min: 7, max: 40 }).chain(hex), label, (sha, l) => {
        expect(parseReleaseDirName(releaseDirName(sha, l))).toEqual({ sha, label: l });
      }),
    );
    expect(parseReleaseDirName('.incoming-abc')).toBeUndefined();
  });
});

describe('shellQuote', () => {
  it('passes any strings through a real sh unchanged (paths and labels never become code)', () => {
    // One sh per batch of strings keeps the real shell in the loop without a process per case.
    const word = fc.string({ unit: 'binary', maxLength: 40 }).map((x) => x.replace(/\0/g, ''));
    fc.assert(
      fc.property(fc.array(word, { minLength: 1, maxLength: 40 }), (words) => {
        const out = execFileSync('sh', ['-c', `printf '%s\\0' ${words.map(shellQuote).join(' ')}`], {
          encoding: 'utf8',
        });
        expect(out.split('\0').slice(0, -1)).toEqual(words);
      }),
      { numRuns: 15 },
    );
  });
});
