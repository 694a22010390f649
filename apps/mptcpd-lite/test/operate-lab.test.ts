/**
 * The two-path lab (tooling/netlab, unique name) with no endpoint configured anywhere (mode "none":
 * limits only). The daemon in the server namespace runs `--endpoints auto`: it must add one signal
 * endpoint per server address, so a client connection gets a second subflow with no `ip mptcp`
 * command; `info --watch --json` in the client namespace must print that connection gaining the
 * subflow; taking path 2 down must make the daemon remove that endpoint, and the client's watch must
 * then print the subflow going away.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Lab } from '@mptcp/testkit/lab';
import { afterAll, describe, expect, it } from 'vitest';
import { mptcpUnavailable, need, netnsUnavailable, python3Unavailable } from './helpers/capability.js';
import { HELPERS, runCli, startCli, startProcess, stopProcess, type Running } from './helpers/cli.js';
import { tempDir, writeEchoUnits } from './helpers/units.js';

const NAME = `eop${process.pid % 100000}`;
const procs: Running[] = [];
let lab: Lab | undefined;
let dir: string | undefined;

afterAll(async () => {
  for (const p of procs.reverse()) await stopProcess(p, 'SIGTERM');
  lab?.down();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface WatchLine {
  event: string;
  token?: string;
  saddr?: string;
  daddr?: string;
  connections?: unknown[];
}

describe('run --endpoints auto and info --watch in the two-path lab', () => {
  it('adds endpoints by itself, the connection gets and loses a second subflow, a link down removes its endpoint', async (ctx) => {
    need(ctx, netnsUnavailable() ?? mptcpUnavailable() ?? python3Unavailable());
    lab = Lab.up(NAME, 'none', 'none');
    const { srvNs: srv, cliNs: cli, srv1, srv2 } = lab.env;
    expect(
      (JSON.parse((await runCli(['endpoints', '--json'], { netns: srv })).stdout) as { endpoints: unknown[] })
        .endpoints,
    ).toEqual([]);

    dir = tempDir('mdl-eop-');
    const units = writeEchoUnits(dir, 7008);
    const daemon = startCli(
      ['run', '--units', units, '--control', path.join(dir, 'control.sock'), '--endpoints', 'auto'],
      { netns: srv },
    );
    procs.push(daemon);
    await daemon.waitFor(/^\{"event":"ready"/, 30_000);
    await daemon.waitFor(new RegExp(`endpoints: added ${srv2.replace(/\./g, '\\.')} id \\d+ signal dev `), 10_000);
    const eps = JSON.parse((await runCli(['endpoints', '--json'], { netns: srv })).stdout) as {
      endpoints: Array<{ address: string; flags: string[]; dev?: string }>;
    };
    expect(eps.endpoints.map((e) => e.address).sort()).toEqual([srv1, srv2].sort());
    expect(eps.endpoints.every((e) => e.flags.includes('signal') && e.dev !== undefined)).toBe(true);
    const check = JSON.parse((await runCli(['check', '--json'], { netns: srv })).stdout) as { readiness: string };
    expect(check.readiness).toBe('multipath');

    const watch = startCli(['info', '--watch', '--json', '--port', '7008'], { netns: cli });
    procs.push(watch);
    await watch.waitFor(/"event":"snapshot"/, 30_000);
    const client = startProcess(
      'ip',
      ['netns', 'exec', cli, 'python3', path.join(HELPERS, 'held-client.py'), srv1, '7008'],
      { stdin: 'pipe' },
    );
    procs.push(client);
    await client.waitFor(/^CONNECTED \d+/, 30_000);
    const joined = JSON.parse(
      await watch.waitFor(new RegExp(`"event":"sub_established".*"daddr":"${srv2.replace(/\./g, '\\.')}"`), 30_000),
    ) as WatchLine;
    expect(joined.token).toMatch(/^[0-9a-f]{8}$/);

    // Path 2 down (client side): the server's s2 loses carrier, the daemon removes 10.x.2.2, the
    // kernel withdraws it (RM_ADDR) and the client's second subflow goes.
    lab.link(2, 'down');
    await daemon.waitFor(new RegExp(`endpoints: removed ${srv2.replace(/\./g, '\\.')} id \\d+`), 30_000);
    const after = JSON.parse((await runCli(['endpoints', '--json'], { netns: srv })).stdout) as {
      endpoints: Array<{ address: string }>;
    };
    expect(after.endpoints.map((e) => e.address)).toEqual([srv1]);
    const lost = JSON.parse(
      await watch.waitFor(
        new RegExp(
          `"event":"(sub_closed|removed)".*"token":"${joined.token}"|"token":"${joined.token}".*"event":"(sub_closed|removed)"`,
        ),
        60_000,
      ),
    ) as WatchLine;
    expect(['sub_closed', 'removed']).toContain(lost.event);

    // Path back: the endpoint comes back.
    lab.link(2, 'up');
    await daemon.waitFor(new RegExp(`endpoints: added ${srv2.replace(/\./g, '\\.')} id`), 30_000);
    client.child.stdin?.end();
    await client.exited;
    await watch.waitFor(new RegExp(`"event":"closed","token":"${joined.token}"`), 30_000);
    // Stopping the daemon removes the endpoints it added.
    const stopped = await stopProcess(daemon, 'SIGTERM');
    expect(stopped.code).toBe(0);
    expect(
      (JSON.parse((await runCli(['endpoints', '--json'], { netns: srv })).stdout) as { endpoints: unknown[] })
        .endpoints,
    ).toEqual([]);
  }, 240_000);

  for (const comm of ['mptcpd', 'NetworkManager'])
    it(`refuses to manage endpoints next to another manager (a process named ${comm} in the namespace); --endpoints-ignore overrides`, async (ctx) => {
      need(ctx, netnsUnavailable() ?? mptcpUnavailable());
      const ns = `${NAME}-${comm.slice(0, 2).toLowerCase()}`;
      execFileSync('ip', ['netns', 'add', ns]);
      const d = tempDir('mdl-eopx-');
      try {
        // A real process whose comm is the manager's name, in that namespace.
        copyFileSync('/bin/sleep', path.join(d, comm));
        execFileSync('chmod', ['+x', path.join(d, comm)]);
        const fake = startProcess('ip', ['netns', 'exec', ns, path.join(d, comm), '600']);
        procs.push(fake);
        mkdirSync(path.join(d, 'units'));
        // Wait until the fake manager really runs in the namespace: a pid listed there whose comm is
        // the manager's (`ip netns exec` is listed from its setns() on, under its own comm until it
        // execs; 200 polls ran out on a loaded machine). 60 s is only a safety net.
        const managerRuns = (): boolean =>
          execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' })
            .split('\n')
            .filter(Boolean)
            .some((pid) => {
              try {
                return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === comm;
              } catch {
                return false;
              }
            });
        for (const end = Date.now() + 60_000; !managerRuns(); await new Promise((r) => setTimeout(r, 20)))
          if (Date.now() > end) throw new Error(`${comm} not running in ${ns} after 60 s`);
        const args = [
          'run',
          '--units',
          path.join(d, 'units'),
          '--control',
          path.join(d, 'c.sock'),
          '--endpoints',
          'auto',
        ];
        const r = await runCli(args, { netns: ns, timeoutMs: 30_000 });
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(
          new RegExp(
            `refusing to manage MPTCP endpoints: ${comm} is running in this network namespace .*\\[pid \\d+\\]`,
          ),
        );
        const tolerated = startCli([...args, '--endpoints-ignore', comm], { netns: ns });
        procs.push(tolerated);
        await tolerated.waitFor(/^\{"event":"ready"/, 30_000);
        expect((await stopProcess(tolerated, 'SIGTERM')).code).toBe(0);
        await stopProcess(fake, 'SIGKILL');
      } finally {
        execFileSync('ip', ['netns', 'del', ns]);
        rmSync(d, { recursive: true, force: true });
      }
    }, 60_000);
});
