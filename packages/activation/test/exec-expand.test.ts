import { describe, expect, it } from 'vitest';
import { expandArgv } from '../src/exec-expand.js';
import { resultOfExit, shallRestart } from '../src/restart-policy.js';

describe('ExecStart= $VAR expansion (replace_env_argv)', () => {
  const env = { A: 'one two  three', B: 'x', EMPTY: '' };
  it('whole-word $VAR splits on whitespace, ${VAR} stays one word', () => {
    expect(
      expandArgv(['/bin/echo', '$A', '${A}', 'pre${B}post', '$EMPTY', '$$A', '$UNKNOWN', '${UNKNOWN}x', 'a$B'], env),
    ).toEqual(['/bin/echo', 'one', 'two', 'three', 'one two  three', 'prexpost', '$A', 'x', 'a$B']);
  });
  it('the : prefix disables expansion', () => {
    expect(expandArgv(['/bin/echo', '$A', '${B}'], env, true)).toEqual(['/bin/echo', '$A', '${B}']);
  });
});

describe('Restart= policy', () => {
  it('maps exits to results and decides like service_shall_restart()', () => {
    expect(resultOfExit(0, null)).toBe('success');
    expect(resultOfExit(1, null)).toBe('exit-code');
    expect(resultOfExit(null, 'SIGTERM')).toBe('success');
    expect(resultOfExit(null, 'SIGKILL')).toBe('signal');
    expect(resultOfExit(null, 'SIGSEGV')).toBe('core-dump');
    expect(shallRestart('on-failure', 'exit-code')).toBe(true);
    expect(shallRestart('on-failure', 'success')).toBe(false);
    expect(shallRestart('on-abnormal', 'exit-code')).toBe(false);
    expect(shallRestart('on-abnormal', 'signal')).toBe(true);
    expect(shallRestart('always', 'success')).toBe(true);
    expect(shallRestart('no', 'signal')).toBe(false);
  });
});
