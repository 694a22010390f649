/**
 * NODE_MPTCP=0 is the operator's switch over the whole process: `activate --mptcp` then listens with
 * plain TCP (one warning), as `check` reports. Without it, the same command listens MPTCP (control).
 */
import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { mptcpUnavailable, need, python3Unavailable } from './helpers/capability.js';
import { startCli, stopProcess, type Running } from './helpers/cli.js';
import { pythonClient } from './helpers/peers.js';
import { freePort } from './helpers/units.js';

let act: Running | undefined;
afterEach(async () => {
  if (act) await stopProcess(act, 'SIGKILL');
  act = undefined;
});

/** Ports of MPTCP listeners on this host, as `ss -M` reports them. */
function mptcpListenPorts(): number[] {
  // -t adds the TCP table: keep the rows whose netid is 'mptcp'.
  const out = execFileSync('ss', ['-MltnH'], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[0] === 'mptcp')
    .map((f) => /:(\d+)$/.exec(f[4] ?? '')?.[1])
    .filter((p): p is string => p !== undefined)
    .map(Number);
}

async function activate(env: NodeJS.ProcessEnv): Promise<number> {
  const port = await freePort();
  act = startCli(['activate', '-l', `127.0.0.1:${port}`, '--mptcp', '-a', '--inetd', '--', 'cat'], { env });
  await act.waitFor(/^Listening on 127\.0\.0\.1:\d+ as 3\./);
  return port;
}

describe('mptcpd-lite activate --mptcp and NODE_MPTCP', () => {
  it('unset: ss -M lists the listener and an MPTCP peer gets MPTCP', async (ctx) => {
    need(ctx, mptcpUnavailable() ?? python3Unavailable());
    const port = await activate({ NODE_MPTCP: '' });
    expect(mptcpListenPorts()).toContain(port);
    expect(await pythonClient(port, 'x')).toMatchObject({ received: 'x', isMptcp: 1 });
  });

  it('NODE_MPTCP=0: plain TCP listener (not in ss -M), one warning, an MPTCP peer falls back to TCP', async (ctx) => {
    need(ctx, mptcpUnavailable() ?? python3Unavailable());
    const port = await activate({ NODE_MPTCP: '0' });
    expect(mptcpListenPorts()).not.toContain(port);
    expect(execFileSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' })).toContain(`127.0.0.1:${port}`);
    expect(act?.lines.filter((l) => l.includes('NODE_MPTCP=0'))).toHaveLength(1);
    expect(await pythonClient(port, 'y')).toMatchObject({ received: 'y', isMptcp: 0 });
  });
});
