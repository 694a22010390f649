import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { need, netnsUnavailable } from './helpers/capability.js';
import { runCli } from './helpers/cli.js';

const NS_READY = `mdl-chk-${process.pid}`;
const NS_OFF = `mdl-off-${process.pid}`;
const ip = (...args: string[]): void => void execFileSync('ip', args, { stdio: 'pipe' });

afterAll(() => {
  for (const ns of [NS_READY, NS_OFF]) {
    try {
      ip('netns', 'del', ns);
    } catch {
      // not created
    }
  }
});

describe('mptcpd-lite check', () => {
  it('reports host facts as JSON with a verdict', async () => {
    const r = await runCli(['check', '--json']);
    expect([0, 1]).toContain(r.code);
    const j = JSON.parse(r.stdout) as { ready: boolean; verdict: string; sysctl: { enabled?: string } };
    expect(typeof j.verdict).toBe('string');
    expect(j.ready).toBe(r.code === 0);
  });

  it('in a namespace with endpoints and limits: ready, multipath, endpoints and limits listed', async (ctx) => {
    need(ctx, netnsUnavailable());
    ip('netns', 'add', NS_READY);
    ip('-n', NS_READY, 'link', 'add', 'mp0', 'type', 'veth', 'peer', 'name', 'mp1');
    ip('-n', NS_READY, 'link', 'set', 'mp0', 'up');
    ip('-n', NS_READY, 'addr', 'add', '10.77.1.1/24', 'dev', 'mp0');
    ip('-n', NS_READY, 'mptcp', 'endpoint', 'add', '10.77.1.1', 'dev', 'mp0', 'subflow');
    ip('-n', NS_READY, 'mptcp', 'endpoint', 'add', '10.77.1.1', 'port', '4321', 'signal');
    ip('-n', NS_READY, 'mptcp', 'limits', 'set', 'subflows', '5', 'add_addr_accepted', '3');
    const r = await runCli(['check', '--json'], { netns: NS_READY });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as { readiness: string; limits: { subflows: number; addAddrAccepted: number }; endpoints: Array<{ address: string; flags: string[]; port?: number; dev?: string }> };
    expect(j.readiness).toBe('multipath');
    expect(j.limits).toEqual({ subflows: 5, addAddrAccepted: 3 });
    expect(j.endpoints).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ address: '10.77.1.1', flags: ['subflow'], dev: 'mp0' }),
        expect.objectContaining({ address: '10.77.1.1', flags: ['signal'], port: 4321 }),
      ]),
    );
    const text = await runCli(['check'], { netns: NS_READY });
    expect(text.stdout).toContain('subflows 5, add_addr_accepted 3');
    expect(text.stdout).toMatch(/ready: connections will be MPTCP and can use several paths/);
  });

  it('without endpoints: MPTCP but single-path, suggests an endpoint on a real interface', async (ctx) => {
    need(ctx, netnsUnavailable());
    const ns = `${NS_READY}b`;
    ip('netns', 'add', ns);
    try {
      ip('-n', ns, 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up1');
      ip('-n', ns, 'link', 'set', 'up0', 'up');
      ip('-n', ns, 'link', 'set', 'up1', 'up');
      ip('-n', ns, 'addr', 'add', '10.78.1.1/24', 'dev', 'up0');
      const r = await runCli(['check'], { netns: ns });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('connections will be MPTCP but single-path because no endpoint is configured — add one with: ip mptcp endpoint add 10.78.1.1 dev up0 subflow');
    } finally {
      ip('netns', 'del', ns);
    }
  });

  it('with net.mptcp.enabled=0: not ready, exit 1, names the sysctl', async (ctx) => {
    need(ctx, netnsUnavailable());
    ip('netns', 'add', NS_OFF);
    execFileSync('ip', ['netns', 'exec', NS_OFF, 'sysctl', '-qw', 'net.mptcp.enabled=0']);
    const r = await runCli(['check'], { netns: NS_OFF });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('net.mptcp.enabled');
    expect(r.stdout).toMatch(/not ready: MPTCP is disabled by sysctl net\.mptcp\.enabled=0/);
    const j = JSON.parse((await runCli(['check', '--json'], { netns: NS_OFF })).stdout) as { ready: boolean; support: { reason: string } };
    expect(j.ready).toBe(false);
    expect(j.support.reason).toBe('disabled-by-sysctl');
  });
});
