/**
 * ExecStart= & co. against the cases of systemd's src/test/test-load-fragment.c
 * (test_config_parse_exec): path, argv, the `-` flag, and which inputs are refused (-ENOEXEC) or
 * only dropped (return 0).
 */
import { describe, expect, it } from 'vitest';
import { parseExecValue } from '../src/exec.js';
import { TEST_HOST_FACTS } from '../src/specifiers.js';

const ctx = { name: 'test.service', host: TEST_HOST_FACTS };
const parse = (v: string) => parseExecValue(v, ctx, { file: 'fake', line: 1 });
const summary = (v: string) => {
  const r = parse(v);
  return { fatal: r.fatal, commands: r.commands.map((c) => [c.path, c.argv, c.ignoreFailure]) };
};

type Case = [string, boolean, Array<[string, string[], boolean]>];
const CASES: Case[] = [
  ['/RValue r1', false, [['/RValue', ['/RValue', 'r1'], false]]],
  ['/RValue///slashes r1///', false, [['/RValue/slashes', ['/RValue///slashes', 'r1///'], false]]],
  ['/RValue/ argv0 r1', true, []],
  ['@/RValue///slashes2 ///argv0 r1', false, [['/RValue/slashes2', ['///argv0', 'r1'], false]]],
  ['@/RValue', true, []],
  ['-@/RValue///slashes3 argv0a r1', false, [['/RValue/slashes3', ['argv0a', 'r1'], true]]],
  ['@-/RValue///slashes4 argv0b r1', false, [['/RValue/slashes4', ['argv0b', 'r1'], true]]],
  ['--/RValue argv0 r1', false, []],
  ['-@-/RValue argv0 r1', false, []],
  [
    '-@/RValue argv0 r1 ; /goo/goo boo',
    false,
    [
      ['/RValue', ['argv0', 'r1'], true],
      ['/goo/goo', ['/goo/goo', 'boo'], false],
    ],
  ],
  [
    '-@/RValue argv0 r1 ; ; /goo/goo boo',
    false,
    [
      ['/RValue', ['argv0', 'r1'], true],
      ['/goo/goo', ['/goo/goo', 'boo'], false],
    ],
  ],
  ['-@/RValue argv0 r1 ; ', false, [['/RValue', ['argv0', 'r1'], true]]],
  ['-@/RValue argv0 r1 ;', false, [['/RValue', ['argv0', 'r1'], true]]],
  ["-@/RValue argv0 r1 ';'", false, [['/RValue', ['argv0', 'r1', ';'], true]]],
  ['/bin/find \\;', false, [['/bin/find', ['/bin/find', ';'], false]]],
  ['/sbin/find \\; /x', false, [['/sbin/find', ['/sbin/find', ';', '/x'], false]]],
  ['/sbin/find \\;x', false, [['/sbin/find', ['/sbin/find', '\\;x'], false]]],
  ['/bin/find \\073', false, [['/bin/find', ['/bin/find', ';'], false]]],
  ['/bin/find ";"', false, [['/bin/find', ['/bin/find', ';'], false]]],
  ['/sbin/find ";" /x', false, [['/sbin/find', ['/sbin/find', ';', '/x'], false]]],
  [
    '"/PATH WITH SPACES/daemon" -1 -2',
    false,
    [['/PATH WITH SPACES/daemon', ['/PATH WITH SPACES/daemon', '-1', '-2'], false]],
  ],
  [
    '"/PATH WITH SPACES/daemon -1 -2"',
    false,
    [['/PATH WITH SPACES/daemon -1 -2', ['/PATH WITH SPACES/daemon -1 -2'], false]],
  ],
  [
    '"/PATH WITH SPACES/daemon" "-1" \'-2\'',
    false,
    [['/PATH WITH SPACES/daemon', ['/PATH WITH SPACES/daemon', '-1', '-2'], false]],
  ],
  [
    '"/PATH\\sWITH\\sSPACES/daemon" \'-1 -2\'',
    false,
    [['/PATH WITH SPACES/daemon', ['/PATH WITH SPACES/daemon', '-1 -2'], false]],
  ],
  [
    '"/PATH\\x20WITH\\x20SPACES/daemon" "-1 -2"',
    false,
    [['/PATH WITH SPACES/daemon', ['/PATH WITH SPACES/daemon', '-1 -2'], false]],
  ],
  ...[...'abfnrtv\\\'"x'].map((ch): Case => [`/path\\${ch}`, true, []]),
  ['/path\\s', false, [['/path ', ['/path '], false]]],
  ["/bin/grep '\\w+\\K'", false, [['/bin/grep', ['/bin/grep', '\\w+\\K'], false]]],
  ['/path\\', true, []],
  ["/path 'foo", true, []],
  ["/path 'foo\\", true, []],
  ['- /path', false, []],
  ['-', false, []],
];

describe('config_parse_exec (upstream test-load-fragment.c cases)', () => {
  it.each(CASES)('%j', (input, fatal, commands) => {
    expect(summary(input)).toEqual({ fatal, commands });
  });
});

describe('replace_env_argv (upstream test-env-util.c cases)', () => {
  it('expands like systemd', async () => {
    const { expandExecCommand } = await import('../src/exec.js');
    const env = { FOO: 'BAR BAR', BAR: 'waldo' };
    const line = [
      'FOO$FOO',
      'FOO$FOOFOO',
      'FOO${FOO}$FOO',
      'FOO${FOO}',
      '${FOO}',
      '$FOO',
      '$FOO$FOO',
      '${FOO}${BAR}',
      '${FOO',
      'FOO$$${FOO}',
      '$$FOO${FOO}',
      '${FOO:-${BAR}}',
      '${QUUX:-${FOO}}',
      '${FOO:+${BAR}}',
      '${QUUX:+${BAR}}',
      '${FOO:+|${BAR}|}}',
      '${FOO:+|${BAR}{|}',
    ];
    expect(expandExecCommand({ argv: line, noEnvExpand: false }, env)).toEqual([
      'FOO$FOO',
      'FOO$FOOFOO',
      'FOOBAR BAR$FOO',
      'FOOBAR BAR',
      'BAR BAR',
      'BAR',
      'BAR',
      'BAR BARwaldo',
      '${FOO',
      'FOO$BAR BAR',
      '$FOOBAR BAR',
      '${FOO:-waldo}',
      '${QUUX:-BAR BAR}',
      '${FOO:+waldo}',
      '${QUUX:+waldo}',
      '${FOO:+|waldo|}}',
      '${FOO:+|waldo{|}',
    ]);
    const bad = ['$FOO', 'A${FOO}B', 'a${~}${%}b', 'x${}y', '$UNSET2', 'z${UNSET3}z${UNSET1}z', 'piff${UNSET2}piff'];
    expect(expandExecCommand({ argv: bad, noEnvExpand: false }, env)).toEqual([
      'BAR',
      'BAR',
      'ABAR BARB',
      'ab',
      'xy',
      'zzz',
      'piffpiff',
    ]);
  });
});
