/**
 * Two real paths (tooling/netlab: two namespaces joined by two shaped veth pairs, the server
 * announcing its second address): the daemon in the server namespace, `connect` in the client
 * namespace. The connection must end up with two subflows, and `connect --info` / `info` must say so.
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { Lab } from '@mptcp/testkit/lab';
import { afterAll, describe, expect, it } from 'vitest';
import { mptcpUnavailable, need, netnsUnavailable, python3Unavailable } from './helpers/capability.js';
import { runCli, startCli, stopProcess, type Running } from './helpers/cli.js';
import { tempDir, writeEchoUnits } from './helpers/units.js';

const NAME = `mdl${process.pid % 10000}`;
// Same rate as lab.sh's, a queue that never drops: lab.sh's tbf (latency 50ms) drops in slow start, and a
// dropped ACK carrying ADD_ADDR is resent only after net.mptcp.add_addr_timeout (120 s).
const TBF = 'root tbf rate 50mbit burst 65536 limit 64mb'.split(' ');
const has = (...parts: string[]): RegExp => new RegExp(parts.map((p) => `(?=.*${p})`).join(''));
const esc = (s: string): string => s.replace(/\./g, '\\.');
let daemon: Running | undefined;
let watch: Running | undefined;
let client: Running | undefined;
let lab: Lab | undefined;
let dir: string | undefined;

afterAll(async () => {
  if (client) await stopProcess(client, 'SIGTERM');
  if (watch) await stopProcess(watch, 'SIGTERM');
  if (daemon) await stopProcess(daemon, 'SIGTERM');
  lab?.down();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('multipath through the daemon', () => {
  it('an MPTCP echo in the server namespace gets a second subflow to the announced address', async (ctx) => {
    need(ctx, netnsUnavailable() ?? mptcpUnavailable() ?? python3Unavailable());
    lab = Lab.up(NAME, '50mbit', 'signal');
    const { srvNs, cliNs, srv1, srv2 } = lab.env;
    for (const [ns, dev] of [
      [srvNs, 's1'],
      [srvNs, 's2'],
      [cliNs, 'c1'],
      [cliNs, 'c2'],
    ] as const) {
      execFileSync('tc', ['-n', ns, 'qdisc', 'replace', 'dev', dev, ...TBF]);
    }
    dir = tempDir('mdl-mp-');
    const units = writeEchoUnits(dir, 7007);
    daemon = startCli(['run', '--units', units, '--control', path.join(dir, 'control.sock')], { netns: srvNs });
    await daemon.waitFor(/^\{"event":"ready"/, 60_000);

    const check = await runCli(['check', '--json'], { netns: srvNs });
    expect(JSON.parse(check.stdout)).toEqual(expect.objectContaining({ ready: true, readiness: 'multipath' }));

    // ~3 MB each way; the connection is held open (stdin not ended) until the client's `info --watch`
    // reports the second subflow to the announced address: the join is an event, not a transfer's length.
    watch = startCli(['info', '--watch', '--json', '--port', '7007'], { netns: cliNs });
    await watch.waitFor(/"event":"snapshot"/, 60_000);
    const payload = 'm'.repeat(3 * 1024 * 1024);
    client = startCli(['connect', `${srv1}:7007`, '--mptcp', 'require', '--info', '--json'], {
      netns: cliNs,
      stdin: 'pipe',
    });
    client.child.stdin?.write(payload);
    await watch.waitFor(has('"event":"sub_established"', `"daddr":"${esc(srv2)}"`), 60_000);
    client.child.stdin?.end();
    const exit = await Promise.race([
      client.exited,
      new Promise<never>((_, reject) =>
        setTimeout(
          () => reject(new Error(`connect did not exit within 60 s; stderr:\n${client?.stderr()}`)),
          60_000,
        ).unref(),
      ),
    ]);
    const r = { code: exit.code, stdout: client.stdout(), stderr: client.stderr() };
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
    // The report says what it saw (the connection's reports and the client's log) when it falls short.
    expect(closed?.subflows.length, r.stderr).toBeGreaterThanOrEqual(2);
    expect(closed?.subflows.map((s) => s.remote)).toEqual(expect.arrayContaining([`${srv1}:7007`, `${srv2}:7007`]));
  }, 240_000);
});
