/**
 * SuccessExitStatus=, RestartPreventExitStatus=, RestartForceExitStatus= as 257's
 * config_parse_set_status() reads them: exit statuses (numbers, base 0, and the names of
 * `systemd-analyze exit-status`) and signals; any other word is warned about with the file's line.
 * RuntimeMaxSec= on a oneshot gets service_verify()'s warning. Expected: `oracle.sh verify` of
 * packages/activation/test/fixtures/v257/exit-status/verify ([verify] lines of its expected.txt).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { exitStatusSet, formatDiagnostic, loadUnitFile, parseExitStatusWord, verify } from '../src/index.js';

const FIXTURE = fileURLToPath(new URL('../../activation/test/fixtures/v257/exit-status/', import.meta.url));
const VERIFY = join(FIXTURE, 'verify');
const recorded = readFileSync(join(FIXTURE, 'expected.txt'), 'utf8')
  .split('\n')
  .filter((l) => l.startsWith('[verify] ') && !l.startsWith('[verify] verify rc='))
  .map((l) => l.slice('[verify] '.length));

describe('exit-status lists (systemd 257)', () => {
  it('warns for the words 257 refuses, with file:line, as verify does', () => {
    const files = ['bad.service', 'rtmone.service'].map((f) => join(VERIFY, f));
    const ours = verify(files)
      .diagnostics.map(formatDiagnostic)
      .map((l) => l.replace(`${VERIFY}/`, ''));
    expect(ours).toEqual(recorded);
  });

  it('keeps the words 257 accepts: statuses by number or name, signals by name or number', () => {
    const u = loadUnitFile(join(VERIFY, 'bad.service'), { searchPaths: [VERIFY] }).unit;
    const set = exitStatusSet(u?.extra['SuccessExitStatus']);
    // SIGFOO 256 7 TEMPFAIL RTMIN+1 -1 foo USR1 SIGRTMAX-2 65 0x10 NOTANAME
    expect(set).toEqual({ status: [7, 16, 65, 75], signal: ['SIGRTMIN+1', 'SIGUSR1', 'SIGRTMAX-2'] });
    expect(parseExitStatusWord('NOTINSTALLED')).toEqual({ status: 5 });
    expect(parseExitStatusWord('SUCCESS')).toEqual({ status: 0 });
    expect(parseExitStatusWord('10')).toEqual({ status: 10 });
    expect(parseExitStatusWord('SIGFOO')).toBeUndefined();
  });

  it('an empty assignment empties the list', () => {
    expect(exitStatusSet(['7 SIGUSR1', '', '8'])).toEqual({ status: [8], signal: [] });
  });
});
