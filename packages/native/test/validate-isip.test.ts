import { isIP as netIsIP } from 'node:net';
import { describe, expect, it } from 'vitest';
import { isIP } from '../src/validate.js';

// The argument checks keep their own copy of node:net's isIP() (loading node:net is what an idle
// mptcpd-lite must not do); it must answer as node:net does.
const CORPUS = [
  '',
  '0.0.0.0',
  '127.0.0.1',
  '255.255.255.255',
  '256.0.0.1',
  '1.2.3',
  '1.2.3.4.5',
  '01.2.3.4',
  '1.2.3.04',
  ' 1.2.3.4',
  '1.2.3.4 ',
  '1.2.3.4\n',
  '::',
  '::1',
  '::ffff:127.0.0.1',
  '::ffff:256.0.0.1',
  'fe80::1%eth0',
  'fe80::1%',
  '2001:db8::',
  '2001:db8:0:0:0:0:0:1',
  '2001:db8:0:0:0:0:0:0:1',
  '1:2:3:4:5:6:7::',
  ':1',
  '1:',
  '1::2::3',
  'g::1',
  '12345::1',
  '[::1]',
  '::127.0.0.1',
  '1:2:3:4:5:6:1.2.3.4',
  '1:2:3:4:5:6:7:1.2.3.4',
  'localhost',
  'xyz',
  '1.2.3.4/24',
  'FFFF::',
  'fe80::1%25eth0',
  '::ffff:1.2.3.4%lo',
];

describe('isIP (validate.ts)', () => {
  it.for(CORPUS)('%j as node:net', (s) => {
    expect(isIP(s)).toBe(netIsIP(s));
  });
  it('random strings over the address alphabet as node:net', () => {
    let seed = 42;
    const next = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed % n);
    const alphabet = '0123456789abcdefABCDEFg:.%';
    for (let i = 0; i < 20_000; i++) {
      const s = Array.from({ length: 1 + next(24) }, () => alphabet[next(alphabet.length)]).join('');
      expect(isIP(s), s).toBe(netIsIP(s));
    }
  });
});
