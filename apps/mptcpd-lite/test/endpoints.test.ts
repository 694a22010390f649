/** `mptcpd-lite endpoints` against the kernel's path manager in a fresh namespace, checked with `ip mptcp`. */
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { ipv6FromBytes, ipv6ToBytes } from '../src/netlink/mptcp-pm.js';
import { mptcpUnavailable, need, netnsUnavailable } from './helpers/capability.js';
import { runCli } from './helpers/cli.js';

const NS = `mdl-ep${process.pid % 100000}`;
const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8' });
let created = false;

afterAll(() => {
  if (created) ip('netns', 'del', NS);
});

describe('IPv6 text ⇄ bytes', () => {
  it.each(['::', '::1', '2001:db8::5', 'fe80::1:2', '::ffff:1.2.3.4', '64:ff9b::c000:201', '2001:db8:1:2:3:4:5:6'])(
    '%s round-trips',
    (a) => {
      expect(ipv6FromBytes(ipv6ToBytes(a))).toBe(a);
    },
  );
  it('rejects garbage', () => {
    expect(() => ipv6ToBytes('1:2:3')).toThrow(/not an IPv6 address/);
  });
});

describe('mptcpd-lite endpoints', () => {
  it('adds, flags, removes endpoints and sets limits as ip mptcp sees them', async (ctx) => {
    need(ctx, netnsUnavailable() ?? mptcpUnavailable());
    ip('netns', 'add', NS);
    created = true;
    ip('-n', NS, 'link', 'add', 'ep0', 'type', 'veth', 'peer', 'name', 'ep1');
    ip('-n', NS, 'addr', 'add', '10.66.1.1/24', 'dev', 'ep0');
    ip('-n', NS, 'addr', 'add', '10.66.1.2/24', 'dev', 'ep0');
    ip('-n', NS, 'link', 'set', 'ep0', 'up');
    ip('-n', NS, 'link', 'set', 'ep1', 'up');
    const run = (...args: string[]) => runCli(['endpoints', ...args], { netns: NS });

    const add = await run('add', '10.66.1.1', 'subflow', 'backup', '--dev', 'ep0', '--id', '7', '--json');
    expect(add.code, add.stderr).toBe(0);
    expect(JSON.parse(add.stdout)).toEqual(
      expect.objectContaining({ id: 7, address: '10.66.1.1', flags: ['subflow', 'backup'], dev: 'ep0' }),
    );
    expect(ip('-n', NS, 'mptcp', 'endpoint', 'show')).toMatch(/10\.66\.1\.1 id 7 subflow backup dev ep0/);

    const again = await run('add', '10.66.1.1', 'signal');
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('EEXIST');

    const flag = await run('flag', '7', 'nobackup', 'fullmesh', '--json');
    expect(flag.code, flag.stderr).toBe(0);
    expect((JSON.parse(flag.stdout) as { flags: string[] }).flags).toEqual(['subflow', 'fullmesh']);

    // A signal endpoint with a port makes the kernel listen there: the address must be local.
    const port = await run('add', '10.66.1.2', 'signal', '--port', '4000');
    expect(port.code, port.stderr).toBe(0);
    expect((await run('add', '2001:db8::7', 'signal')).code).toBe(0);
    const list = JSON.parse((await run('--json')).stdout) as { endpoints: Array<{ address: string; port?: number }> };
    expect(list.endpoints).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ address: '10.66.1.2', port: 4000 }),
        expect.objectContaining({ address: '2001:db8::7' }),
      ]),
    );

    const limits = await run('limits', '--subflows', '4', '--add-addr-accepted', '3', '--json');
    expect(JSON.parse(limits.stdout)).toEqual({ subflows: 4, addAddrAccepted: 3 });
    expect(ip('-n', NS, 'mptcp', 'limits', 'show')).toMatch(/add_addr_accepted 3 subflows 4/);

    expect((await run('remove', '10.66.1.1')).code).toBe(0);
    expect(ip('-n', NS, 'mptcp', 'endpoint', 'show')).not.toContain('10.66.1.1');
    const missing = await run('remove', '42');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no endpoint 42');
    expect((await run('add', '10.66.1.1', 'bogus')).stderr).toContain('unknown endpoint flag "bogus"');
    expect((await run('flush')).code).toBe(0);
    expect(ip('-n', NS, 'mptcp', 'endpoint', 'show').trim()).toBe('');
  }, 60_000);
});
