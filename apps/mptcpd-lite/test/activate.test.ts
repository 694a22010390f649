/**
 * `activate` against systemd-socket-activate's documented and observed behaviour (spec §4.7, §7),
 * with independent Python MPTCP clients.
 */
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { mptcpUnavailable, need, netnsUnavailable, python3Unavailable } from './helpers/capability.js';
import { pidAlive, runCli, startCli, stopProcess, type Running } from './helpers/cli.js';
import { pythonClient } from './helpers/peers.js';
import { freePort } from './helpers/units.js';

let act: Running | undefined;
afterEach(async () => {
  if (act) await stopProcess(act, 'SIGKILL');
  act = undefined;
});
const NS_OFF = `mdl-act-${process.pid}`;
afterAll(() => {
  try {
    execFileSync('ip', ['netns', 'del', NS_OFF], { stdio: 'ignore' });
  } catch {
    // not created
  }
});

function connectSend(port: number, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.end(data));
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString()));
    s.on('close', () => resolve(got));
    s.on('error', reject);
  });
}

describe('mptcpd-lite activate', () => {
  it('--mptcp -a --inetd -- cat: an MPTCP echo, one cat per connection, systemd log lines, SIGTERM stops it and its children', async (ctx) => {
    need(ctx, mptcpUnavailable() ?? python3Unavailable());
    const port = await freePort();
    act = startCli(['activate', '-l', `127.0.0.1:${port}`, '--mptcp', '-a', '--inetd', '--', 'cat']);
    await act.waitFor(new RegExp(`^Listening on 127\\.0\\.0\\.1:${port} as 3\\.$`));
    const first = await pythonClient(port, 'hello mptcp');
    expect(first).toEqual({ received: 'hello mptcp', isMptcp: 1, protocol: 262 });
    const second = await pythonClient(port, 'again');
    expect(second.received).toBe('again');
    expect(
      act.lines.filter((l) => new RegExp(`^Connection from 127\\.0\\.0\\.1:\\d+ to 127\\.0\\.0\\.1:${port}$`).test(l)),
    ).toHaveLength(2);
    // systemd-socket-activate's order: poll event, connection, spawn.
    const i = act.lines.findIndex((l) => l.startsWith('Connection from'));
    expect(
      act.lines
        .slice(i - 1, i + 2)
        .map((l) => l.replace(/\d+\.\d+\.\d+\.\d+:\d+/g, 'ADDR').replace(/PID \d+/, 'PID N')),
    ).toEqual(['Communication attempt on fd 3.', 'Connection from ADDR to ADDR', 'Spawned cat (cat) as PID N.']);
    const pids = act.lines
      .filter((l) => /^Spawned cat \(cat\) as PID \d+\.$/.test(l))
      .map((l) => Number(/PID (\d+)/.exec(l)?.[1]));
    expect(pids).toHaveLength(2);
    const res = await stopProcess(act, 'SIGTERM');
    expect(res.code).toBe(0);
    for (const pid of pids) expect(pidAlive(pid)).toBe(false);
  });

  it('--mptcp -a -- PROGRAM: the connection is fd 3 with LISTEN_FDS=1 and LISTEN_PID = the instance', async (ctx) => {
    need(ctx, mptcpUnavailable() ?? python3Unavailable());
    const port = await freePort();
    act = startCli([
      'activate',
      '-l',
      `127.0.0.1:${port}`,
      '--mptcp',
      '-a',
      '--',
      'sh',
      '-c',
      'echo "fds=$LISTEN_FDS pid=$LISTEN_PID self=$$ names=${LISTEN_FDNAMES-unset}" >&3; cat <&3 >&3',
    ]);
    await act.waitFor(/^Listening on/);
    const r = await pythonClient(port, 'via fd 3');
    const [hello, rest] = r.received.split('\n');
    const m = /^fds=1 pid=(\d+) self=(\d+) names=unset$/.exec(hello ?? '');
    expect(m, hello).not.toBeNull();
    expect(m?.[1]).toBe(m?.[2]);
    expect(rest).toBe('via fd 3');
    expect(r.isMptcp).toBe(1);
  });

  it('--mptcp -a -- cat: plain accept mode echoes too (the connection is also stdin/stdout) over MPTCP', async (ctx) => {
    need(ctx, mptcpUnavailable() ?? python3Unavailable());
    const port = await freePort();
    act = startCli(['activate', '-l', `127.0.0.1:${port}`, '--mptcp', '-a', '--', 'cat']);
    await act.waitFor(/^Listening on/);
    expect(await pythonClient(port, 'echo without --inetd')).toEqual({
      received: 'echo without --inetd',
      isMptcp: 1,
      protocol: 262,
    });
    expect((await pythonClient(port, 'twice')).received).toBe('twice');
  });

  it('without --accept: all fds on the first connection, names, -E, rebuilt environment, exit status mirrored', async () => {
    const p1 = await freePort();
    const p2 = await freePort();
    act = startCli(
      [
        'activate',
        '-l',
        `127.0.0.1:${p1}`,
        '-l',
        `127.0.0.1:${p2}`,
        '--fdname=web:admin',
        '-E',
        'FOO',
        '-E',
        'BAR=baz',
        '--',
        'sh',
        '-c',
        'echo "$LISTEN_FDS $LISTEN_FDNAMES $LISTEN_PID $$ FOO=$FOO BAR=$BAR SECRET=${SECRET-unset}"; exit 3',
      ],
      { env: { FOO: 'bar', SECRET: 'leak' } },
    );
    await act.waitFor(new RegExp(`^Listening on 127\\.0\\.0\\.1:${p2} as 4\\.$`));
    expect(act.lines).toContain(`Listening on 127.0.0.1:${p1} as 3.`);
    await connectSend(p2, 'x').catch(() => '');
    const res = await act.exited;
    expect(res.code).toBe(3);
    expect(act.lines).toContain('Communication attempt on fd 4.');
    const out = act.stdout().trim().split(' ');
    expect(out.slice(0, 2)).toEqual(['2', 'web:admin']);
    expect(out[2]).toBe(out[3]);
    expect(out.slice(4)).toEqual(['FOO=bar', 'BAR=baz', 'SECRET=unset']);
  });

  it("--datagram with --accept is refused with systemd's message (exit 2)", async () => {
    const r = await runCli(['activate', '-l', '127.0.0.1:1', '-d', '-a', '--', 'true']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'Datagram sockets do not accept connections. The --datagram and --accept options may not be combined.',
    );
  });

  it('a bad address exits 2 naming it', async () => {
    const r = await runCli(['activate', '-l', 'not-an-address', '--', 'true']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('not-an-address');
  });

  it('--mptcp where net.mptcp.enabled=0 fails with ENOPROTOOPT; --mptcp-fallback falls back to TCP', async (ctx) => {
    need(ctx, netnsUnavailable());
    execFileSync('ip', ['netns', 'add', NS_OFF]);
    execFileSync('ip', ['-n', NS_OFF, 'link', 'set', 'lo', 'up']);
    execFileSync('ip', ['netns', 'exec', NS_OFF, 'sysctl', '-qw', 'net.mptcp.enabled=0']);
    const r = await runCli(['activate', '-l', '127.0.0.1:2000', '--mptcp', '-a', '--', 'true'], { netns: NS_OFF });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('ENOPROTOOPT');
    const { startProcess } = await import('./helpers/cli.js');
    const { CLI } = await import('./helpers/cli.js');
    act = startProcess('ip', [
      'netns',
      'exec',
      NS_OFF,
      process.execPath,
      CLI,
      'activate',
      '-l',
      '127.0.0.1:2000',
      '--mptcp-fallback',
      '-a',
      '--',
      'true',
    ]);
    await act.waitFor(/^Listening on 127\.0\.0\.1:2000 as 3\./);
    expect(act.lines.join('\n')).toMatch(
      /MPTCP unavailable \(ENOPROTOOPT\), listening on 127\.0\.0\.1:2000 with plain TCP\./,
    );
  });
});
