/** MPTCP switched off by sysctl (in a private network namespace): clear failure, or TCP fallback when allowed. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Capability, need, root } from './helpers/capability.js';
import { HELPERS, run, unitDir, loopback } from './helpers/run.js';
import { execFileSync } from 'node:child_process';

const unshare: Capability = (() => {
  try {
    execFileSync('unshare', ['-n', 'sh', '-c', 'sysctl -qw net.mptcp.enabled=0'], { stdio: 'ignore' });
    return { ok: true, reason: '' };
  } catch (err) {
    return { ok: false, reason: `cannot create a network namespace with MPTCP disabled: ${(err as Error).message}` };
  }
})();

interface Out {
  report: { listening: string[]; failed: Array<{ unit: string; error: string; code?: string }> };
  status: { sockets: Array<{ name: string; state: string; listen: Array<{ transport: string; protocol: number }> }> };
  warnings: string[];
}

async function inNetnsWithoutMptcp(dir: string): Promise<Out> {
  const r = await run('unshare', [
    '-n',
    'sh',
    '-c',
    `ip link set lo up && sysctl -qw net.mptcp.enabled=0 && exec "${process.execPath}" "${join(HELPERS, 'netns-engine.mjs')}" "${dir}"`,
  ]);
  if (r.code !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as Out;
}

describe('MPTCP unavailable', () => {
  it('SocketProtocol=mptcp fails the unit with a message naming the sysctl', async (ctx) => {
    need(ctx, root, unshare);
    const dir = unitDir({
      'm.socket': `[Socket]\nListenStream=${await loopback()}\nSocketProtocol=mptcp\n`,
      'm.service': '[Service]\nExecStart=/bin/true\n',
    });
    const out = await inNetnsWithoutMptcp(dir);
    expect(out.report.listening).toEqual([]);
    expect(out.report.failed[0]).toMatchObject({ unit: 'm.socket', code: 'MPTCP_UNAVAILABLE' });
    expect(out.report.failed[0]?.error).toContain('net.mptcp.enabled');
    expect(out.report.failed[0]?.error).toContain('X-MPTCPFallback=yes');
    expect(out.status.sockets[0]?.state).toBe('failed');
  });

  it('X-MPTCPFallback=yes: plain TCP with a warning', async (ctx) => {
    need(ctx, root, unshare);
    const dir = unitDir({
      'm.socket': `[Socket]\nListenStream=${await loopback()}\nSocketProtocol=mptcp\nX-MPTCPFallback=yes\n`,
      'm.service': '[Service]\nExecStart=/bin/true\n',
    });
    const out = await inNetnsWithoutMptcp(dir);
    expect(out.report.listening).toEqual(['m.socket']);
    expect(out.status.sockets[0]?.listen[0]).toMatchObject({ transport: 'fallback', protocol: 6 });
    expect(out.warnings.join('\n')).toContain('net.mptcp.enabled');
  });

  it('ListenDatagram ignores SocketProtocol=mptcp, as systemd does', async (ctx) => {
    need(ctx, root, unshare);
    const dir = unitDir({
      'd.socket': `[Socket]\nListenDatagram=${await loopback()}\nSocketProtocol=mptcp\n`,
      'd.service': '[Service]\nExecStart=/bin/true\n',
    });
    const out = await inNetnsWithoutMptcp(dir);
    expect(out.report.listening).toEqual(['d.socket']);
    expect(out.status.sockets[0]?.listen[0]).toMatchObject({ transport: 'udp' });
  });
});
