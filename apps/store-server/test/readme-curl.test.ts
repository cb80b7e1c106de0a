import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type ServerFixture, startFixture } from './server-fixture';

/** The README's curl walk-through: the ```sh block that starts with the server's address. */
function readmeWalkthrough(): string {
  const readme = readFileSync(join(import.meta.dirname, '../README.md'), 'utf8');
  const start = readme.indexOf('```sh\nB=${GREENTIC_STORE_URL');
  if (start < 0)
    throw new Error('README.md: the curl walk-through (```sh starting with B=${GREENTIC_STORE_URL) is gone');
  return readme.slice(start + '```sh\n'.length, readme.indexOf('\n```\n', start));
}

/** Runs `script` in bash (errexit, nounset, pipefail) with only PATH and `env`; never blocks the event loop. */
function bash(script: string, env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-euo', 'pipefail', '-c', script], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      out += b.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

let fixture: ServerFixture | undefined;
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

describe('README: the HTTP contract with curl', () => {
  it('runs as written against a real server and shows each rule it names', async () => {
    fixture = await startFixture();
    const { code, out } = await bash(readmeWalkthrough(), {
      GREENTIC_STORE_URL: fixture.server.url,
      GREENTIC_ADMIN_TOKEN: fixture.adminToken,
    });
    expect(code, out).toBe(0);
    const created = /^zain-prod created at ("v\d+-[0-9a-f]+")$/m.exec(out);
    expect(created, out).not.toBeNull();
    // The update and its replay: the same status, tag and request id; only the replay says so.
    const answers = out.split(/(?=^HTTP\/1\.1 )/m).filter((a) => a.startsWith('HTTP/1.1'));
    expect(answers).toHaveLength(2);
    const header = (answer: string, name: string) => new RegExp(`^${name}: (.*)\\r$`, 'im').exec(answer)?.[1];
    for (const answer of answers) expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(header(answers[0]!, 'etag')).not.toBe(created?.[1]);
    expect(header(answers[1]!, 'etag')).toBe(header(answers[0]!, 'etag'));
    expect(header(answers[1]!, 'x-request-id')).toBe(header(answers[0]!, 'x-request-id'));
    expect(header(answers[0]!, 'idempotent-replayed')).toBeUndefined();
    expect(header(answers[1]!, 'idempotent-replayed')).toBe('true');
    const problems = out
      .split('\n')
      .filter((line) => line.startsWith('{"type":'))
      .map((line) => JSON.parse(line) as { status: number; code: string; currentVersion?: string });
    expect(problems.map((p) => [p.status, p.code])).toEqual([
      [412, 'version-conflict'],
      [428, 'precondition-required'],
      [403, 'forbidden'],
    ]);
    expect(`"${problems[0]!.currentVersion}"`).toBe(header(answers[0]!, 'etag'));
    expect(out).toMatch(/^200$/m); // ci reads zain-prod
    // The minted secret is never printed by the walk-through (it only goes into $CI).
    expect(out).not.toMatch(/"token":"gtc_/);
    const audit = JSON.parse(out.split('\n').find((line) => line.startsWith('[')) ?? '[]') as {
      actor: string;
      status: number;
    }[];
    expect(audit.map((e) => [e.actor, e.status])).toEqual([
      ['admin', 412],
      ['admin', 428],
      ['ci', 403],
    ]);
    expect(JSON.parse(out.trimEnd().split('\n').at(-1)!)).toMatchObject({ ready: true, integrity: 'ok' });
    // What the walk-through did is in the store: config from the first update only, a token for ci.
    const env = await fixture.call('/v1/environments/zain-prod/config');
    expect(await env.json()).toEqual({ region: 'eu' });
  });
});
