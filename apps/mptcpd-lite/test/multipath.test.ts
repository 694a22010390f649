/**
 * Two real paths (tooling/netlab: two namespaces joined by two shaped veth pairs, the server
 * announcing its second address): the daemon in the server namespace, `connect` in the client
 * namespace. The connection must end up with two subflows, and `connect --info` / `info` must say so.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mptcpUnavailable, need, netnsUnavailable, python3Unavailable } from './helpers/capability.js';
import { APP_ROOT, CLI, runCli, startProcess, stopProcess, type Running } from './helpers/cli.js';
import { tempDir } from './helpers/units.js';

const LAB = path.resolve(APP_ROOT, '..', '..', 'tooling', 'netlab', 'lab.sh');
const NAME = `mdl${process.pid % 10000}`;
let daemon: Running | undefined;
let dir: string | undefined;

afterAll(async () => {
  if (daemon) await stopProcess(daemon, 'SIGTERM');
  try {
    execFileSync(LAB, [NAME, 'down'], { stdio: 'ignore' });
  } catch {
    // not up
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('multipath through the daemon', () => {
  it('an MPTCP echo in the server namespace gets a second subflow to the announced address', async (ctx) => {
    need(ctx, netnsUnavailable() ?? mptcpUnavailable() ?? python3Unavailable());
    execFileSync(LAB, [NAME, 'up', '50mbit', 'signal'], { stdio: 'pipe' });
    const env = Object.fromEntries(
      execFileSync(LAB, [NAME, 'env'], { encoding: 'utf8' })
        .trim()
        .split('\n')
        .map((l) => l.split('=') as [string, string]),
    );
    const srvNs = env.LAB_SRV_NS as string;
    const cliNs = env.LAB_CLI_NS as string;
    dir = tempDir('mdl-mp-');
    const units = path.join(dir, 'units');
    mkdirSync(units);
    writeFileSync(
      path.join(units, 'echo.socket'),
      '[Socket]\nListenStream=0.0.0.0:7007\nSocketProtocol=mptcp\nAccept=yes\n',
    );
    writeFileSync(path.join(units, 'echo@.service'), '[Service]\nExecStart=/bin/cat\nStandardInput=socket\n');
    daemon = startProcess('ip', [
      'netns',
      'exec',
      srvNs,
      process.execPath,
      CLI,
      'run',
      '--units',
      units,
      '--control',
      path.join(dir, 'control.sock'),
    ]);
    await daemon.waitFor(/^\{"event":"ready"/, 15000);

    const check = await runCli(['check', '--json'], { netns: srvNs });
    expect(JSON.parse(check.stdout)).toEqual(expect.objectContaining({ ready: true, readiness: 'multipath' }));

    // ~3 MB each way at 50 Mbit/s per path: long enough for the second subflow to join and carry data.
    const payload = 'm'.repeat(3 * 1024 * 1024);
    const r = await runCli(['connect', `${env.LAB_SRV1}:7007`, '--mptcp', 'require', '--info', '--json'], {
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
    expect(closed?.subflows.map((s) => s.remote)).toEqual(
      expect.arrayContaining([`${env.LAB_SRV1}:7007`, `${env.LAB_SRV2}:7007`]),
    );
  }, 120_000);
});
