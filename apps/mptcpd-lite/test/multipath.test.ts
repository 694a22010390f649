/**
 * Two real paths (tooling/netlab: two namespaces joined by two shaped veth pairs, the server
 * announcing its second address): the daemon in the server namespace, `connect` in the client
 * namespace. The connection must end up with two subflows, and `connect --info` / `info` must say so.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { Lab } from '@mptcp/testkit/lab';
import { afterAll, describe, expect, it } from 'vitest';
import { mptcpUnavailable, need, netnsUnavailable, python3Unavailable } from './helpers/capability.js';
import { runCli, startCli, stopProcess, type Running } from './helpers/cli.js';
import { tempDir, writeEchoUnits } from './helpers/units.js';

const NAME = `mdl${process.pid % 10000}`;
let daemon: Running | undefined;
let lab: Lab | undefined;
let dir: string | undefined;

afterAll(async () => {
  if (daemon) await stopProcess(daemon, 'SIGTERM');
  lab?.down();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('multipath through the daemon', () => {
  it('an MPTCP echo in the server namespace gets a second subflow to the announced address', async (ctx) => {
    need(ctx, netnsUnavailable() ?? mptcpUnavailable() ?? python3Unavailable());
    lab = Lab.up(NAME, '50mbit', 'signal');
    const { srvNs, cliNs, srv1, srv2 } = lab.env;
    dir = tempDir('mdl-mp-');
    const units = writeEchoUnits(dir, 7007);
    daemon = startCli(['run', '--units', units, '--control', path.join(dir, 'control.sock')], { netns: srvNs });
    await daemon.waitFor(/^\{"event":"ready"/, 15000);

    const check = await runCli(['check', '--json'], { netns: srvNs });
    expect(JSON.parse(check.stdout)).toEqual(expect.objectContaining({ ready: true, readiness: 'multipath' }));

    // ~3 MB each way at 50 Mbit/s per path: long enough for the second subflow to join and carry data.
    const payload = 'm'.repeat(3 * 1024 * 1024);
    const r = await runCli(['connect', `${srv1}:7007`, '--mptcp', 'require', '--info', '--json'], {
      netns: cliNs,
      input: payload,
      timeoutMs: 60_000,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.length).toBe(payload.length);
    const events = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map(
        (l) =>
          JSON.parse(l) as {
            event: string;
            transport: string;
            subflows: Array<{ local: string; remote: string }>;
            info?: { subflowsTotal: number };
          },
      );
    const closed = events.find((e) => e.event === 'closed');
    expect(events.find((e) => e.event === 'connected')?.transport).toBe('mptcp');
    expect(closed?.subflows.length).toBeGreaterThanOrEqual(2);
    expect(closed?.subflows.map((s) => s.remote)).toEqual(expect.arrayContaining([`${srv1}:7007`, `${srv2}:7007`]));
  }, 120_000);
});
