/**
 * Notifications from a process that has exited before the daemon reads them, the sender pinned by
 * its pidfd (SO_PASSPIDFD/SCM_PIDFD) as systemd 257's manager_dispatch_notify_fd() pins it. The
 * main process forks a child that sends STATUS= and exits; the daemon's event loop is blocked (on a
 * FIFO the main process writes once the child has exited) so that the datagram is read only then:
 *
 * - a child that is a zombie (exited, not reaped) is still mapped to its service through its pidfd;
 * - a child already reaped by its parent is a sender that "died before message is processed": 257
 *   drops it (debug), it is not a "Cannot find unit" warning;
 * - the pidfd is checked against the credentials: a PID reused since is never taken for the sender
 *   (checked in the unit of senderSession(): the session read from /proc is re-verified).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ActivationEngine, loadNative } from '../src/index.js';
import type { NativeApi } from '../src/native-binding.js';
import { NotifySocket, type NotifyTarget, sessionOf } from '../src/notify-socket.js';
import { need } from './helpers/capability.js';
import { loadUnits } from './helpers/load.js';
import { testLogger } from './helpers/log.js';
import { tmp, unitDir, waitFor } from './helpers/run.js';

const SENDER = `
import os, socket, sys, signal
fifo, mode = sys.argv[1], sys.argv[2]
addr = os.environ["NOTIFY_SOCKET"]
if addr.startswith("@"): addr = "\\0" + addr[1:]
def send(msg):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.sendto(msg.encode(), addr)
    s.close()
pid = os.fork()
if pid == 0:
    send("STATUS=from %s child" % mode)
    os._exit(0)
if mode == "reaped":
    os.waitpid(pid, 0)
else:
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)   # exited, left a zombie
with open(fifo, "w") as f:
    f.write(str(pid))
if mode == "reaped":
    send("STATUS=main after")
signal.pause()
`;

const native = await loadNative().catch(() => undefined);
const pidfds = {
  ok: native?.passPidfd !== undefined && native.pidfd !== undefined,
  reason: 'no SO_PASSPIDFD (addon or kernel < 6.5)',
};

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

async function run(mode: 'zombie' | 'reaped') {
  const work = tmp('notify-pidfd-');
  const fifo = join(work, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const script = join(work, 'sender.py');
  writeFileSync(script, SENDER);
  const dir = unitDir({
    'n.service': `[Service]\nNotifyAccess=all\nExecStart=/usr/bin/python3 ${script} ${fifo} ${mode}\n`,
  });
  const debug: string[] = [];
  const base = testLogger();
  const log = { ...base, debug: (m: string, f?: { unit?: string }) => (debug.push(m), base.debug(m, f)) };
  engine = new ActivationEngine({ logger: log });
  const e = engine;
  await e.start(await loadUnits(dir));
  await e.startUnit('n.service');
  // Blocks this event loop (the daemon's) until the child has exited (and, `reaped`, was collected).
  const child = Number(readFileSync(fifo, 'utf8'));
  return { e, child, warnings: base.warnings, debug };
}

describe('a notify sender that exited before its datagram is read', () => {
  it('not reaped yet (a zombie): mapped to its service through its pidfd', async (ctx) => {
    need(ctx, pidfds);
    const { e, warnings } = await run('zombie');
    await waitFor(
      () => e.unitInfo('n.service')?.service?.statusText === 'from zombie child',
      10_000,
      'STATUS=from zombie child',
    );
    expect(warnings.filter((w) => w.includes('Cannot find unit'))).toEqual([]);
  });

  it('already reaped: dropped as 257 drops it ("died before message is processed"), no warning', async (ctx) => {
    need(ctx, pidfds);
    const { e, warnings, debug } = await run('reaped');
    // The main process's STATUS= comes after the child's: once it is there, the child's was read.
    await waitFor(() => e.unitInfo('n.service')?.service?.statusText === 'main after', 10_000, 'STATUS=main after');
    expect(debug).toContain('Notify sender died before message is processed. Ignoring.');
    expect(warnings.filter((w) => w.includes('Cannot find unit'))).toEqual([]);
  });
});

describe('the sender pinned by its pidfd (no kernel race needed: the pidfd answers are scripted)', () => {
  /** A notify socket on a scripted addon: one datagram from this process, with pidfd 99. */
  function pinned(pidAnswers: Array<number | undefined>) {
    let readable: (error: Error | null) => void = () => undefined;
    const queue = [
      { data: Buffer.from('STATUS=x'), pid: process.pid, uid: 0, gid: 0, fds: [], pidfd: 99, truncated: false },
    ];
    const closed: number[] = [];
    const fake = {
      openSocket: () => ({ fd: 42 }),
      watchReadable: (_fd: number, cb: (e: Error | null) => void) => ((readable = cb), { stop: () => undefined }),
      receiveDatagram: () => queue.shift() ?? null,
      close: (fd: number) => void closed.push(fd),
      passPidfd: () => true,
      pidfd: { pid: () => pidAnswers.shift() },
    } as unknown as NativeApi & Required<Pick<NativeApi, 'receiveDatagram'>>;
    const log = testLogger();
    const sock = new NotifySocket(fake, log);
    sock.open();
    const onNotify = vi.fn();
    const target: NotifyTarget = {
      name: 't.service',
      relation: (_pid, session) => (session !== undefined && session === sessionOf(process.pid) ? 'member' : undefined),
      onNotify,
    };
    sock.register(target);
    readable(null);
    return { onNotify, closed, warnings: log.warnings };
  }

  it('the pidfd names the sender before and after /proc is read: mapped, the pidfd closed', () => {
    const r = pinned([process.pid, process.pid]);
    expect(r.onNotify).toHaveBeenCalledTimes(1);
    expect(r.closed).toContain(99);
  });

  it('reaped while /proc was read (the PID may be another process now): not mapped', () => {
    const r = pinned([process.pid, -1]);
    expect(r.onNotify).not.toHaveBeenCalled();
    expect(r.warnings).toEqual([]);
    expect(r.closed).toContain(99);
  });

  it('a pidfd naming another PID than the credentials: refused with 257 s words', () => {
    const r = pinned([process.pid + 1]);
    expect(r.onNotify).not.toHaveBeenCalled();
    expect(r.warnings).toEqual([
      `Got SCM_PIDFD for process ${process.pid + 1} but SCM_CREDENTIALS for process ${process.pid}. Ignoring.`,
    ]);
  });
});
