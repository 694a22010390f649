import { constants } from 'node:os';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ERRNO_ALIASES, errnoMessage, errnoName, errnoNumber, isErrnoName } from '../src/index.js';

describe('the errno table', () => {
  it.each(Object.entries(constants.errno))('%s = %d agrees with Node', (name, n) => {
    expect(errnoNumber(name)).toBe(n);
    expect(errnoName(n)).toBe(ERRNO_ALIASES[name] ?? name);
  });

  it("names and messages agree with glibc (python3's errno.errorcode and os.strerror)", (ctx) => {
    const r = spawnSync(
      'python3',
      [
        '-c',
        'import errno,os,json; print(json.dumps({n: [errno.errorcode.get(n, ""), os.strerror(n)] for n in range(1, 134)}))',
      ],
      { encoding: 'utf8' },
    );
    if (r.status !== 0) {
      if (process.env['CI'] === 'true') throw new Error(`python3 is needed: ${r.stderr}`);
      ctx.skip();
    }
    const glibc = JSON.parse(r.stdout) as Record<string, [string, string]>;
    for (const [n, [name, text]] of Object.entries(glibc)) {
      if (name === '') continue; // 41 and 58 are unused
      expect(ERRNO_ALIASES[name] ?? name).toBe(errnoName(Number(n)));
      expect(errnoMessage(Number(n))).toBe(text);
    }
  });

  it('numbers, names and aliases', () => {
    expect(errnoName(-92)).toBe('ENOPROTOOPT');
    expect(errnoName(9999)).toBe('E9999');
    expect(errnoNumber('EWOULDBLOCK')).toBe(11);
    expect(errnoMessage('EOPNOTSUPP')).toBe('Operation not supported');
    expect(isErrnoName('MPTCP_DISABLED_BY_ENV')).toBe(false);
    expect(isErrnoName('ENOTSUP')).toBe(true);
  });
});
