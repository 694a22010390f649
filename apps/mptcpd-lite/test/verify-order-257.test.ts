/**
 * `mptcpd-lite verify DIR` against `oracle.sh verify DIR` (systemd-analyze verify 257,
 * test/fixtures/v257/verify-order, recorded with its record.sh): several units, each with warnings.
 * 257 loads every file first (in the glob's order: its parse-time lines, a load failure's
 * "Unit X has a bad unit file setting."), and only then checks each loaded unit (the socket's service,
 * the executables): the same lines in the same order, and 257's wording for invalid socket options.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { APP_ROOT, runCli } from './helpers/cli.js';

const FIXTURE = path.join(APP_ROOT, 'test', 'fixtures', 'v257', 'verify-order');
const recorded = readFileSync(path.join(FIXTURE, 'expected.txt'), 'utf8')
  .split('\n')
  .filter((l) => l !== '' && !l.startsWith('#'));

describe('mptcpd-lite verify DIR: what systemd-analyze verify 257 prints, in its order', () => {
  it('the same lines in the same order, and its exit status', async () => {
    // oracle.sh passes --recursive-errors=no (warnings make rc 1).
    const r = await runCli(['verify', '--recursive-errors', 'no', FIXTURE]);
    const lines = r.stderr
      .split('\n')
      .filter(Boolean)
      .map((l) => l.replaceAll(`${FIXTURE}/`, ''));
    expect(lines).toEqual(recorded.filter((l) => !l.startsWith('verify rc=')));
    expect(`verify rc=${r.code}`).toBe(recorded.at(-1));
  });
});
