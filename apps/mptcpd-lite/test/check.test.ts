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
    ip('-n', NS_READY, 'link', 'set', 'mp1', 'up');
    ip('-n', NS_READY, 'addr', 'add', '10.77.1.1/24', 'dev', 'mp0');
    ip('-n', NS_READY, 'mptcp', 'endpoint', 'add', '10.77.1.1', 'dev', 'mp0', 'subflow');
    ip('-n', NS_READY, 'mptcp', 'endpoint', 'add', '10.77.1.1', 'port', '4321', 'signal');
    ip('-n', NS_READY, 'mptcp', 'limits', 'set', 'subflows', '5', 'add_addr_accepted', '3');
    const r = await runCli(['check', '--json'], { netns: NS_READY });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as {
      readiness: string;
      limits: { subflows: number; addAddrAccepted: number };
      endpoints: Array<{ address: string; flags: string[]; port?: number; dev?: string }>;
    };
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
    // One interface: the port-based signal endpoint gives a second subflow, but over the same path.
    expect(text.stdout).toMatch(
      /ready: connections will be MPTCP and can use several subflows .* all over the one interface mp0/,
    );
    expect(text.stdout).toContain('why: this host has one usable address (10.77.1.1 on mp0)');
  });

  it('one interface, no endpoint: single-path because of the one address, and no advice to add an endpoint on it', async (ctx) => {
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
      expect(r.stdout).toContain(
        "connections will be MPTCP but single-path on this host's side because it has one usable address (10.78.1.1 on up0)",
      );
      expect(r.stdout).not.toContain('endpoint add 10.78.1.1');
      const j = JSON.parse((await runCli(['check', '--json'], { netns: ns })).stdout) as {
        readiness: string;
        reasons: Array<{ code: string }>;
      };
      expect(j.readiness).toBe('single-path');
      expect(j.reasons.map((x) => x.code)).toEqual(['ONE_INTERFACE']);
    } finally {
      ip('netns', 'del', ns);
    }
  });

  it('two interfaces, no endpoint: NO_ENDPOINT, suggests the interface without the default route; subflows 0: SUBFLOWS_LIMIT_ZERO', async (ctx) => {
    need(ctx, netnsUnavailable());
    const ns = `${NS_READY}c`;
    ip('netns', 'add', ns);
    try {
      for (const [a, b, addr] of [
        ['tw0', 'tw1', '10.79.1.1/24'],
        ['tw2', 'tw3', '10.79.2.1/24'],
      ] as const) {
        ip('-n', ns, 'link', 'add', a, 'type', 'veth', 'peer', 'name', b);
        ip('-n', ns, 'link', 'set', a, 'up');
        ip('-n', ns, 'link', 'set', b, 'up');
        ip('-n', ns, 'addr', 'add', addr, 'dev', a);
      }
      ip('-n', ns, 'route', 'add', 'default', 'via', '10.79.1.254', 'dev', 'tw0');
      const r = await runCli(['check', '--json'], { netns: ns });
      const j = JSON.parse(r.stdout) as {
        readiness: string;
        reasons: Array<{ code: string }>;
        advice: string[];
        verdict: string;
      };
      expect(j.readiness).toBe('single-path');
      expect(j.reasons.map((x) => x.code)).toEqual(['NO_ENDPOINT']);
      expect(j.advice[0]).toBe('ip mptcp endpoint add 10.79.2.1 dev tw2 subflow signal');
      // The endpoint on the default-route address alone adds no path.
      ip('-n', ns, 'mptcp', 'endpoint', 'add', '10.79.1.1', 'dev', 'tw0', 'subflow');
      const p = JSON.parse((await runCli(['check', '--json'], { netns: ns })).stdout) as {
        readiness: string;
        reasons: Array<{ code: string }>;
      };
      expect(p.readiness).toBe('single-path');
      expect(p.reasons.map((x) => x.code)).toEqual(['ENDPOINT_ON_PRIMARY_ONLY']);
      ip('-n', ns, 'mptcp', 'endpoint', 'add', '10.79.2.1', 'dev', 'tw2', 'subflow');
      expect(
        (JSON.parse((await runCli(['check', '--json'], { netns: ns })).stdout) as { readiness: string }).readiness,
      ).toBe('multipath');
      ip('-n', ns, 'mptcp', 'limits', 'set', 'subflows', '0');
      const z = JSON.parse((await runCli(['check', '--json'], { netns: ns })).stdout) as {
        readiness: string;
        reasons: Array<{ code: string }>;
      };
      expect(z.readiness).toBe('single-path');
      expect(z.reasons.map((x) => x.code)).toEqual(['SUBFLOWS_LIMIT_ZERO']);
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
    const j = JSON.parse((await runCli(['check', '--json'], { netns: NS_OFF })).stdout) as {
      ready: boolean;
      support: { reason: string; code: string; errno: number };
    };
    expect(j.ready).toBe(false);
    expect(j.support.reason).toBe('disabled-by-sysctl');
    // errno is a number everywhere (as Node's SystemError); the name is `code`.
    expect(j.support).toMatchObject({ code: 'ENOPROTOOPT', errno: 92 });
  });
});
