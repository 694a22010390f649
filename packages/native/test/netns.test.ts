import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missing, probes } from './helpers/capability.js';
import { createNetns, deleteNetns, lastJson, runIn, sh } from './helpers/netns.js';

const skip = missing(probes.root, probes.netns, probes.mptcp);

interface ErrorSummary {
  code: string;
  errno: number;
  syscall: string;
  message: string;
  typed: boolean;
}

describe.skipIf(skip)('MPTCP unavailable: a namespace with net.mptcp.enabled=0', () => {
  let ns = '';
  beforeAll(() => {
    ns = createNetns('natoff');
    sh('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.mptcp.enabled=0']);
  });
  afterAll(() => deleteNetns(ns));

  it("'require' fails with ENOPROTOOPT naming the sysctl; 'prefer' gives a working TCP socket", async () => {
    const r = lastJson<{
      support: { available: boolean; reason: string; code: string; errno: number };
      listenRequire: ErrorSummary;
      connectRequire: ErrorSummary;
      openSocket: ErrorSummary;
      openPrefer: { transport: string; fallbackReason: string; fallbackCode: string; protocol: number };
      serverStatus: { protocol: number; requested: boolean; unavailable?: string };
      clientStatus: { protocol: number; requested: boolean; active: boolean; fallback: boolean; unavailable?: string };
      isMptcp: boolean;
      echo: string;
    }>(await runIn(ns, 'disabled.mjs'));
    expect(r.support).toEqual({ available: false, reason: 'disabled-by-sysctl', code: 'ENOPROTOOPT', errno: 92 });
    for (const e of [r.listenRequire, r.connectRequire, r.openSocket]) {
      expect(e.typed).toBe(true);
      expect(e.code).toBe('ENOPROTOOPT');
      expect(e.errno).toBe(92);
      expect(e.syscall).toBe('socket');
      expect(e.message).toContain('net.mptcp.enabled=0');
      expect(e.message).toContain('sysctl -w net.mptcp.enabled=1');
    }
    expect(r.openPrefer).toEqual({
      transport: 'tcp',
      fallbackReason: 'disabled-by-sysctl',
      fallbackCode: 'ENOPROTOOPT',
      protocol: 6,
    });
    expect(r.serverStatus.protocol).toBe(6);
    expect(r.serverStatus.requested).toBe(false);
    expect(r.clientStatus).toEqual({
      requested: false,
      active: false,
      fallback: false,
      protocol: 6,
      unavailable: 'disabled-by-sysctl',
    });
    expect(r.serverStatus).toEqual({
      requested: false,
      active: false,
      fallback: false,
      protocol: 6,
      unavailable: 'disabled-by-sysctl',
    });
    expect(r.isMptcp).toBe(false);
    expect(r.echo).toBe('over tcp');
  });
});

describe.skipIf(skip)('connect timeout on a blackholed address', () => {
  let ns = '';
  beforeAll(() => {
    // A veth pair whose both ends live in the namespace: nobody owns 10.254.77.2; the namespace has
    // no link to the outside world. A permanent neighbour entry (a MAC nobody has) sends the SYNs out
    // of bh0, where bh1 drops them: without it ARP fails after ~3 s and connect() ends with
    // EHOSTUNREACH, which won whenever a loaded machine ran the 700 ms timer late. Now only our
    // timeout ends the attempt (the kernel alone retries the SYN for ~127 s).
    ns = createNetns('natbh');
    sh('ip', ['-n', ns, 'link', 'add', 'bh0', 'type', 'veth', 'peer', 'name', 'bh1']);
    sh('ip', ['-n', ns, 'addr', 'add', '10.254.77.1/24', 'dev', 'bh0']);
    sh('ip', ['-n', ns, 'link', 'set', 'bh0', 'up']);
    sh('ip', ['-n', ns, 'link', 'set', 'bh1', 'up']);
    sh('ip', [
      '-n',
      ns,
      'neigh',
      'replace',
      '10.254.77.2',
      'lladdr',
      '02:00:5e:00:53:02',
      'dev',
      'bh0',
      'nud',
      'permanent',
    ]);
  });
  afterAll(() => deleteNetns(ns));

  it.each(['mptcp', 'tcp'])('%s: connect gives up after `timeout` with ETIMEDOUT', async (mode) => {
    const r = lastJson<{
      code: string;
      syscall: string;
      elapsed: number;
      timedOut: boolean;
      destroyed: boolean;
      ticks: number;
      callMs: number;
    }>(await runIn(ns, 'blackhole.mjs', { TARGET: '10.254.77.2', TIMEOUT_MS: '700', MODE: mode }));
    expect(r.code).toBe('ETIMEDOUT');
    expect(r.syscall).toBe('connect');
    expect(r.timedOut).toBe(true);
    expect(r.destroyed).toBe(true);
    expect(r.elapsed).toBeGreaterThanOrEqual(650);
    // Far below the kernel's own ~127 s: our timer ended it (a loaded machine may run it late).
    expect(r.elapsed).toBeLessThan(15_000);
    // The loop never blocked: connect() returned at once (a blocking connect would last until the
    // timeout) and the 50 ms timer ran while it waited. Not a tick count per elapsed time: a process
    // starved of CPU (both cores busy) gets fewer ticks without anything blocking.
    expect(r.callMs).toBeLessThan(350);
    expect(r.ticks).toBeGreaterThanOrEqual(1);
  });
});
