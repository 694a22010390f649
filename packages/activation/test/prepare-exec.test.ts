/**
 * prepareExec() and `$VAR` expansion on the start path: the fast paths (no `$` in any word, no stale
 * PID variable in the environment) give exactly what the full paths give — the same argv, the same
 * variables in the same order (the order of the child's envp) — and never share the caller's objects.
 */
import { describe, expect, it } from 'vitest';
import type { ExecCommand } from '@mptcp/unit';
import { prepareExec } from '../src/exec.js';
import { expandArgv } from '../src/exec-expand.js';

const command = (argv: string[]): ExecCommand =>
  ({ path: argv[0]!, argv, raw: argv.join(' ') }) as unknown as ExecCommand;

describe('prepareExec environment', () => {
  it('drops stale LISTEN_PID/SYSTEMD_EXEC_PID/WATCHDOG_PID, keeping every other variable in order', () => {
    const env = {
      PATH: '/usr/bin',
      LISTEN_PID: '1',
      LANG: 'C.UTF-8',
      SYSTEMD_EXEC_PID: '2',
      LISTEN_FDS: '1',
      WATCHDOG_PID: '3',
      WATCHDOG_USEC: '5000000',
      Z: 'last',
    };
    const prep = prepareExec({ command: command(['/bin/true']), env });
    expect(Object.entries(prep.env)).toEqual([
      ['PATH', '/usr/bin'],
      ['LANG', 'C.UTF-8'],
      ['LISTEN_FDS', '1'],
      ['WATCHDOG_USEC', '5000000'],
      ['Z', 'last'],
    ]);
    expect(prep.pidEnv).toEqual(['LISTEN_PID', 'WATCHDOG_PID', 'SYSTEMD_EXEC_PID']);
    expect(env.LISTEN_PID).toBe('1'); // the caller's object is untouched
  });

  it('without them: the same variables in the same order, in a copy of its own', () => {
    const env = { PATH: '/usr/bin', INVOCATION_ID: 'ab', LISTEN_FDS: '2', LISTEN_FDNAMES: 'a:b' };
    const prep = prepareExec({ command: command(['/bin/true']), env });
    expect(Object.entries(prep.env)).toEqual(Object.entries(env));
    expect(prep.env).not.toBe(env);
    expect(prep.pidEnv).toEqual(['LISTEN_PID', 'SYSTEMD_EXEC_PID']);
  });
});

describe('expandArgv fast path', () => {
  const env = { A: 'one two', B: 'x' };
  it('words without $ come back as they are, in a new array', () => {
    const argv = ['/usr/bin/node', '/srv/app.js', '--port', '80', 'a b', ''];
    const out = expandArgv(argv, env);
    expect(out).toEqual(argv);
    expect(out).not.toBe(argv);
  });
  it('one word with $ still expands the whole command', () => {
    expect(expandArgv(['/bin/echo', 'plain', '$A', '${B}'], env)).toEqual(['/bin/echo', 'plain', 'one', 'two', 'x']);
  });
});
