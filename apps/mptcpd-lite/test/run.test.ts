/**
 * The daemon, driven as a user would: `node dist/cli.js run` with a unit directory holding an MPTCP
 * Accept=yes echo, an AF_UNIX Accept=no service (RemoveOnStop=yes) and one broken unit.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mptcpUnavailable, need, netnsUnavailable, python3Unavailable } from './helpers/capability.js';
import {
  CLI,
  cliArgv,
  HELPERS,
  pidAlive,
  runCli,
  startCli,
  startProcess,
  stopProcess,
  type Running,
} from './helpers/cli.js';
import { converse } from './helpers/control.js';
import { pythonClient } from './helpers/peers.js';
import { freePort, tempDir, writeUnits } from './helpers/units.js';

interface Status {
  pid: number;
  sockets: Array<{
    unit: string;
    state: string;
    listen: Array<{ address: string; protocol: string; fd?: number }>;
    accepted: number;
    activations: number;
  }>;
  services: Array<{ unit: string; state: string; pid?: number }>;
  failed: Array<{ unit: string; stage: string; messages: string[] }>;
}

let dir: string;
let daemon: Running | undefined;
let others: Running[] = [];

beforeEach(() => {
  dir = tempDir('mdl-run-');
});
afterEach(async () => {
  // Peers first: an Accept=yes instance (which shares the daemon's stderr) ends with its connection.
  for (const o of others) await stopProcess(o, 'SIGKILL');
  if (daemon) await stopProcess(daemon, 'SIGTERM');
  daemon = undefined;
  others = [];
  rmSync(dir, { recursive: true, force: true });
});

async function setup(): Promise<{ units: string; control: string; echoPort: number; unixPath: string }> {
  const echoPort = await freePort();
  const unixPath = path.join(dir, 'app.sock');
  const units = writeUnits(path.join(dir, 'units'), {
    'echo.socket': `[Socket]\nListenStream=127.0.0.1:${echoPort}\nSocketProtocol=mptcp\nAccept=yes\n`,
    'echo@.service': '[Service]\nExecStart=/bin/cat\nStandardInput=socket\n',
    'app.socket': `[Socket]\nListenStream=${unixPath}\nRemoveOnStop=yes\nSocketMode=0600\n`,
    'app.service': '[Service]\nExecStart=/bin/sleep 300\nKillSignal=SIGTERM\nTimeoutStopSec=5\n',
    'broken.socket': '[Socket]\nAccept=yes\nFooBar=1\n',
  });
  return { units, control: path.join(dir, 'control.sock'), echoPort, unixPath };
}

async function start(
  units: string,
  control: string,
  env: NodeJS.ProcessEnv = {},
): Promise<{ ready: Record<string, unknown> }> {
  daemon = startCli(['run', '--units', units, '--control', control], { env });
  const line = await daemon.waitFor(/^\{"event":"ready"/, 15000);
  return { ready: JSON.parse(line) as Record<string, unknown> };
}

async function status(control: string): Promise<Status> {
  const r = await runCli(['status', '--json', '--control', control]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Status;
}

function touchUnix(p: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect(p, () => {
      s.destroy();
      resolve();
    });
    s.on('error', reject);
  });
}

/**
 * Polls `cond` until it holds. The timeout is only a safety net (the condition ends the wait), generous
 * so a spawn + notify with both cores busy still fits; `detail` describes the last state for the error.
 */
async function waitUntil(
  cond: () => boolean | Promise<boolean>,
  detail: () => string,
  timeoutMs = 60_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms; last state:\n${detail()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('mptcpd-lite run', () => {
  it('skips a broken unit with its diagnostics, runs the others over MPTCP, reports status, stops cleanly', async (ctx) => {
    need(ctx, mptcpUnavailable() ?? python3Unavailable());
    const { units, control, echoPort, unixPath } = await setup();
    const { ready } = await start(units, control);
    expect(ready.pid).toBe(daemon?.child.pid);
    expect(ready.failed).toBe(1);
    expect(typeof ready.startupMs).toBe('number');
    expect(ready.cpuMs).toBeGreaterThan(0);
    const err = daemon?.stderr() ?? '';
    expect(err).toContain("broken.socket:3: Unknown key 'FooBar' in section [Socket], ignoring.");
    expect(err).toContain(
      'broken.socket: Unit has no Listen setting (ListenStream=, ListenDatagram=, ListenFIFO=, ...). Refusing.',
    );
    expect(err).toMatch(/ERR +broken\.socket: skipped/);

    // The MPTCP echo answers an independent MPTCP client, and the connection is really MPTCP.
    const echo = await pythonClient(echoPort, 'ping over mptcp');
    expect(echo).toEqual({ received: 'ping over mptcp', isMptcp: 1, protocol: 262 });

    // The AF_UNIX node exists with SocketMode=0600; the first connection starts app.service.
    expect(statSync(unixPath).mode & 0o777).toBe(0o600);
    await touchUnix(unixPath);
    let st = await status(control);
    await waitUntil(
      async () => {
        st = await status(control);
        return st.services.some((s) => s.unit === 'app.service' && s.state === 'active');
      },
      () => `app.service not active; last status: ${JSON.stringify(st.services)}`,
    );
    const appPid = st.services.find((s) => s.unit === 'app.service')?.pid;
    expect(appPid).toBeGreaterThan(0);
    const echoSock = st.sockets.find((s) => s.unit === 'echo.socket');
    expect(echoSock?.listen[0]).toEqual(
      expect.objectContaining({ address: `127.0.0.1:${echoPort}`, protocol: 'mptcp' }),
    );
    expect(echoSock?.accepted).toBe(1);
    expect(st.failed.map((f) => f.unit)).toEqual(['broken.socket']);

    const table = await runCli(['status', '--control', control]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/echo\.socket +listening +mptcp +127\.0\.0\.1:\d+ +yes/);
    expect(table.stdout).toMatch(/app\.service +active +\d+/);
    expect(table.stdout).toContain('broken.socket (failed to load, skipped):');

    // SIGTERM: exit 0, the service is gone, the AF_UNIX node removed (RemoveOnStop=yes).
    const res = await stopProcess(daemon as Running, 'SIGTERM', 10000);
    expect(res.code).toBe(0);
    expect(pidAlive(appPid as number)).toBe(false);
    expect(existsSync(unixPath)).toBe(false);
    expect(existsSync(control)).toBe(false);
    expect(daemon?.stdout()).toContain('{"event":"stopped"');
  }, 120_000);

  it('answers garbage on the control socket with errors and keeps running', async (ctx) => {
    need(ctx, mptcpUnavailable());
    const { units, control } = await setup();
    await start(units, control);
    expect(statSync(control).mode & 0o777).toBe(0o600);
    const [notJson] = await converse(control, 'this is not json\n', 1);
    expect(JSON.parse(notJson as string)).toEqual({ ok: false, error: expect.objectContaining({ code: 'EBADMSG' }) });
    const [unknown] = await converse(control, '{"cmd":"rm -rf /","id":7}\n', 1);
    expect(JSON.parse(unknown as string)).toEqual({
      ok: false,
      id: 7,
      error: expect.objectContaining({ code: 'EINVAL' }),
    });
    const [array] = await converse(control, '[1,2,3]\n', 1);
    expect(JSON.parse(array as string).ok).toBe(false);
    const [huge] = await converse(control, Buffer.alloc(100_000, 0x41), 1);
    expect(JSON.parse(huge as string).error.code).toBe('EMSGSIZE');
    const binary = await converse(
      control,
      Buffer.from([0, 1, 2, 0xff, 0xfe, 10, ...Buffer.from('{"cmd":"ping"}\n')]),
      2,
    );
    expect(JSON.parse(binary[0] as string).ok).toBe(false);
    expect(JSON.parse(binary[1] as string)).toEqual(expect.objectContaining({ ok: true, pong: true }));
    // Still alive and serving.
    expect(daemon?.child.exitCode).toBeNull();
    expect((await status(control)).sockets.length).toBe(2);
  });

  it('SIGHUP reloads: a new unit is picked up, listening fds are kept, sd_notify says RELOADING then READY', async (ctx) => {
    need(ctx, mptcpUnavailable() ?? python3Unavailable());
    const { units, control, echoPort } = await setup();
    const notifyPath = path.join(dir, 'notify.sock');
    const receiver = startProcess('python3', [path.join(HELPERS, 'notify-receiver.py'), notifyPath]);
    others.push(receiver);
    await receiver.waitFor(/listening/);
    await start(units, control, { NOTIFY_SOCKET: notifyPath });
    const daemonPid = daemon?.child.pid;
    const readyMsg = JSON.parse(await receiver.waitFor(/"READY": "1"/)) as {
      pid: number;
      fields: Record<string, string>;
    };
    expect(readyMsg.pid).toBe(daemonPid);
    expect(readyMsg.fields.STATUS).toMatch(/2 socket units listening, 1 failed to load/);

    const before = await status(control);
    const echoFd = before.sockets.find((s) => s.unit === 'echo.socket')?.listen[0]?.fd;
    const newPort = await freePort();
    writeFileSync(
      path.join(units, 'extra.socket'),
      `[Socket]\nListenStream=127.0.0.1:${newPort}\nSocketProtocol=mptcp\nAccept=yes\n`,
    );
    writeFileSync(path.join(units, 'extra@.service'), '[Service]\nExecStart=/bin/cat\nStandardInput=socket\n');
    daemon?.kill('SIGHUP');
    await daemon?.waitFor(/^\{"event":"reloaded"/);
    const reloading = JSON.parse(await receiver.waitFor(/"RELOADING": "1"/)) as {
      pid: number;
      fields: Record<string, string>;
    };
    expect(reloading.pid).toBe(daemonPid);
    expect(Number(reloading.fields.MONOTONIC_USEC)).toBeGreaterThan(0);
    await waitUntil(
      () => receiver.lines.filter((l) => l.includes('"READY": "1"')).length >= 2,
      () => `no 2nd READY=1; receiver lines:\n${receiver.lines.join('\n')}`,
    );

    const after = await status(control);
    expect(after.sockets.map((s) => s.unit).sort()).toEqual(['app.socket', 'echo.socket', 'extra.socket']);
    expect(after.sockets.find((s) => s.unit === 'echo.socket')?.listen[0]?.fd).toBe(echoFd);
    expect(await pythonClient(newPort, 'new')).toEqual(expect.objectContaining({ received: 'new', isMptcp: 1 }));
    expect(await pythonClient(echoPort, 'old')).toEqual(expect.objectContaining({ received: 'old', isMptcp: 1 }));

    // A reload through the control socket works too.
    const r = JSON.parse((await converse(control, '{"cmd":"reload"}\n', 1))[0] as string) as {
      ok: boolean;
      reloaded: boolean;
    };
    expect(r).toEqual(expect.objectContaining({ ok: true, reloaded: true }));

    const res = await stopProcess(daemon as Running, 'SIGTERM', 10000);
    expect(res.code).toBe(0);
    const stopping = JSON.parse(await receiver.waitFor(/"STOPPING": "1"/)) as { pid: number };
    expect(stopping.pid).toBe(daemonPid);
  }, 120_000);

  it('logs with sd-daemon <N> prefixes when JOURNAL_STREAM names its stderr; "stop" on the control socket stops it', async (ctx) => {
    need(ctx, mptcpUnavailable());
    const { units, control } = await setup();
    // As systemd does: JOURNAL_STREAM=DEV:INODE of the stream on fd 2.
    daemon = startProcess('sh', [
      '-c',
      'JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) exec "$0" "$@"',
      ...cliArgv(['run', '--units', units, '--control', control]),
    ]);
    await daemon.waitFor(/^\{"event":"ready"/, 15000);
    const err = daemon.stderr();
    expect(err).toMatch(/^<3>broken\.socket: Unit has no Listen setting/m);
    expect(err).toMatch(/^<5>Ready: /m);
    expect(err).not.toMatch(/^(INFO|NOTICE|ERR) /m);
    const [reply] = await converse(control, '{"cmd":"stop"}\n', 1);
    expect(JSON.parse(reply as string)).toEqual(expect.objectContaining({ ok: true, stopping: true }));
    expect((await daemon.exited).code).toBe(0);
  });

  it('ignores a JOURNAL_STREAM that does not match its stderr (plain level words)', async (ctx) => {
    need(ctx, mptcpUnavailable());
    const { units, control } = await setup();
    await start(units, control, { JOURNAL_STREAM: '8:12345' });
    const err = daemon?.stderr() ?? '';
    expect(err).toMatch(/^NOTICE +Ready: /m);
    expect(err).not.toMatch(/^<\d>/m);
  });

  it('SIGINT stops it gracefully too (exit 0)', async (ctx) => {
    need(ctx, mptcpUnavailable());
    const { units, control } = await setup();
    await start(units, control);
    const res = await stopProcess(daemon as Running, 'SIGINT');
    expect(res.code).toBe(0);
    expect(daemon?.stderr()).toContain('Stopping (SIGINT)');
  });

  it('refuses to start a second daemon on the same control socket (exit 2)', async (ctx) => {
    need(ctx, mptcpUnavailable());
    const { units, control } = await setup();
    await start(units, control);
    const second = await runCli(['run', '--units', units, '--control', control]);
    expect(second.code).toBe(2);
    expect(second.stderr).toContain('another mptcpd-lite is already running');
  });

  it('info takes the ports from the running daemon and shows its MPTCP connections', async (ctx) => {
    need(ctx, mptcpUnavailable() ?? python3Unavailable());
    const { units, control, echoPort } = await setup();
    await start(units, control);
    // Hold one MPTCP connection to the echo service open while info looks.
    const holder = startProcess('python3', [
      '-c',
      `import socket, time\ns = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)\ns.connect(('127.0.0.1', ${echoPort}))\ns.sendall(b'x' * 5000)\nn = 0\nwhile n < 5000: n += len(s.recv(65536))\nprint('HELD', s.getsockname()[1], flush=True)\ntime.sleep(30)`,
    ]);
    others.push(holder);
    const clientPort = Number((await holder.waitFor(/^HELD \d+/)).split(' ')[1]);
    const r = await runCli(['info', '--json', '--control', control]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as {
      ports: number[];
      connections: Array<{
        local: { port: number };
        remote: { port: number };
        info?: { bytesReceived: number; bytesSent: number };
        subflows: unknown[];
      }>;
    };
    expect(j.ports).toEqual([echoPort]);
    const server = j.connections.find((c) => c.local.port === echoPort && c.remote.port === clientPort);
    expect(server?.info?.bytesReceived).toBe(5000);
    expect(server?.info?.bytesSent).toBe(5000);
    expect(server?.subflows).toHaveLength(1);
  });

  it('a socket whose port is taken fails to start (EADDRINUSE, in status); the others listen', async (ctx) => {
    need(ctx, mptcpUnavailable());
    const { units, control, echoPort } = await setup();
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const busyPort = (busy.address() as net.AddressInfo).port;
    writeFileSync(path.join(units, 'busy.socket'), `[Socket]\nListenStream=127.0.0.1:${busyPort}\nAccept=yes\n`);
    writeFileSync(path.join(units, 'busy@.service'), '[Service]\nExecStart=/bin/cat\nStandardInput=socket\n');
    try {
      await start(units, control);
      expect(daemon?.stderr()).toContain('EADDRINUSE');
      expect(daemon?.stderr()).toMatch(/busy\.socket: not listening \(failed to start\); the other units keep running/);
      const st = await status(control);
      expect(st.failed).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ unit: 'busy.socket', stage: 'start' }),
          expect.objectContaining({ unit: 'broken.socket', stage: 'load' }),
        ]),
      );
      expect(st.sockets.find((s) => s.unit === 'echo.socket')?.listen[0]?.address).toBe(`127.0.0.1:${echoPort}`);
    } finally {
      busy.close();
    }
  });

  it('where net.mptcp.enabled=0: SocketProtocol=mptcp fails to start with the fix named, X-MPTCPFallback=yes listens as "fallback"', async (ctx) => {
    need(ctx, netnsUnavailable() ?? mptcpUnavailable());
    const ns = `mdl-run-${process.pid}`;
    execFileSync('ip', ['netns', 'add', ns]);
    try {
      execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.mptcp.enabled=0']);
      const units = writeUnits(path.join(dir, 'units'), {
        'strict.socket': '[Socket]\nListenStream=127.0.0.1:7100\nSocketProtocol=mptcp\nAccept=yes\n',
        'strict@.service': '[Service]\nExecStart=/bin/cat\nStandardInput=socket\n',
        'lenient.socket':
          '[Socket]\nListenStream=127.0.0.1:7101\nSocketProtocol=mptcp\nX-MPTCPFallback=yes\nAccept=yes\n',
        'lenient@.service': '[Service]\nExecStart=/bin/cat\nStandardInput=socket\n',
      });
      const control = path.join(dir, 'control.sock');
      daemon = startCli(['run', '--units', units, '--control', control], { netns: ns });
      await daemon.waitFor(/^\{"event":"ready"/, 15000);
      expect(daemon.stderr()).toMatch(/strict\.socket: .*ENOPROTOOPT/);
      expect(daemon.stderr()).toContain('net.mptcp.enabled');
      const st = await status(control);
      expect(st.sockets.find((s) => s.unit === 'lenient.socket')?.listen[0]?.protocol).toBe('fallback');
      expect(st.sockets.find((s) => s.unit === 'strict.socket')?.state).toMatch(/^failed/);
      expect(st.failed).toEqual([expect.objectContaining({ unit: 'strict.socket', stage: 'start' })]);
      await stopProcess(daemon, 'SIGTERM');
    } finally {
      execFileSync('ip', ['netns', 'del', ns]);
    }
  });

  it('run without any readable unit directory exits 2', async () => {
    const r = await runCli(['run', '--units', path.join(dir, 'missing'), '--control', path.join(dir, 'c.sock')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cannot read the unit directory: ENOENT (No such file or directory)');
  });

  it('an unreadable unit directory is named with EACCES, exit 2, no stack trace', async (ctx) => {
    const setpriv = spawnSync('setpriv', ['--version']).status === 0;
    need(
      ctx,
      process.getuid?.() !== 0
        ? 'needs root'
        : setpriv
          ? undefined
          : 'needs setpriv (util-linux) to drop CAP_DAC_OVERRIDE',
    );
    const { units } = await setup();
    const { chmodSync, chownSync } = await import('node:fs');
    // Owned by nobody, mode 0700: unreadable for a root daemon without CAP_DAC_OVERRIDE/DAC_READ_SEARCH
    // (the daemon itself still reads its own files, wherever the checkout is).
    chownSync(units, 65534, 65534);
    chmodSync(units, 0o700);
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(
        'setpriv',
        [
          '--bounding-set=-dac_override,-dac_read_search',
          '--inh-caps=-dac_override,-dac_read_search',
          ...cliArgv(['run', '--units', units, '--control', path.join(dir, 'c.sock')]),
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolve({ code, stderr }));
    });
    expect(r.stderr).toContain(`${units}: cannot read the unit directory: EACCES (Permission denied)`);
    expect(r.code).toBe(2);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('fds the daemon inherited do not reach its services', async (ctx) => {
    need(ctx, mptcpUnavailable());
    const port = await freePort();
    const units = writeUnits(path.join(dir, 'units'), {
      'fds.socket': `[Socket]\nListenStream=127.0.0.1:${port}\nAccept=yes\n`,
      'fds@.service': '[Service]\nExecStart=/bin/ls -l /proc/self/fd\nStandardInput=socket\n',
    });
    const { openSync, closeSync } = await import('node:fs');
    const stray = openSync('/dev/null', 'r');
    // stdio[9] = an inheritable fd 9 in the daemon, as a careless parent would leave it.
    const child = spawn(process.execPath, [CLI, 'run', '--units', units, '--control', path.join(dir, 'c.sock')], {
      stdio: ['ignore', 'pipe', 'pipe', 'ignore', 'ignore', 'ignore', 'ignore', 'ignore', 'ignore', stray],
    });
    closeSync(stray);
    try {
      await new Promise<void>((resolve) =>
        child.stdout?.on('data', (d: Buffer) => d.toString().includes('"event":"ready"') && resolve()),
      );
      expect(readlinkSync(`/proc/${child.pid}/fd/9`)).toBe('/dev/null');
      const listing = await new Promise<string>((resolve, reject) => {
        const s = net.connect(port, '127.0.0.1');
        let got = '';
        s.on('data', (d: Buffer) => (got += d.toString()));
        s.on('close', () => resolve(got));
        s.on('error', reject);
      });
      const fds = listing
        .split('\n')
        .map((l) => /\s(\d+) -> /.exec(l)?.[1])
        .filter((x): x is string => x !== undefined)
        .map(Number);
      expect(fds).toContain(0);
      expect(fds).not.toContain(9);
      expect(fds.filter((fd) => fd > 2).length).toBeLessThanOrEqual(1); // ls's own /proc/self/fd directory
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.on('close', r));
    }
  });

  it('status without a daemon exits 2 and says what to do', async () => {
    const r = await runCli(['status', '--control', path.join(dir, 'none.sock')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('ENOENT');
    expect(r.stderr).toContain('mptcpd-lite run');
  });
});

describe('mptcpd-lite run: control-socket peer credentials', () => {
  it('refuses a peer that is neither root nor the daemon user (SO_PEERCRED)', async (ctx) => {
    need(
      ctx,
      mptcpUnavailable() ??
        python3Unavailable() ??
        (process.getuid?.() === 0 ? undefined : 'needs root to connect as another uid'),
    );
    const { units, control } = await setup();
    await start(units, control);
    // Open the way for uid 65534 (the mode is the first line of defence; SO_PEERCRED the second).
    const { chmodSync } = await import('node:fs');
    chmodSync(dir, 0o755);
    chmodSync(control, 0o666);
    const script = `import os, socket\nos.setgid(65534); os.setuid(65534)\ns = socket.socket(socket.AF_UNIX); s.connect(${JSON.stringify(control)})\ns.sendall(b'{"cmd":"stop"}\\n'); print(s.recv(4096).decode(), flush=True)`;
    const p = startProcess('python3', ['-c', script]);
    others.push(p);
    // The peer prints the answer and exits: its exit is the event (on a loaded machine a fixed wait for
    // its line ran out before python3 had run); a daemon that never answers leaves it in recv() and the
    // test's own timeout fails it.
    const exit = await p.exited;
    expect(exit, p.stderr()).toEqual({ code: 0, signal: null });
    const line = p.lines.find((l) => l.startsWith('{'));
    expect(line, p.stdout()).toBeDefined();
    expect(JSON.parse(line ?? '')).toEqual({ ok: false, error: expect.objectContaining({ code: 'EPERM' }) });
    expect(daemon?.child.exitCode).toBeNull();
    expect((await status(control)).pid).toBe(daemon?.child.pid);
  });
});
