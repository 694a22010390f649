/**
 * pidfds against the real kernel: SO_PASSPIDFD gives each datagram its sender's pidfd (SCM_PIDFD),
 * whose fdinfo `Pid:` names the sender until it is reaped (-1 after); pidfd_open() on a process
 * that is not our child, readable when it exits, and its exit status from PIDFD_GET_INFO once
 * whoever reaps it has (the shell that started it here).
 */
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import {
  close,
  openPidfd,
  openSocket,
  passPidfd,
  pidfdExit,
  pidfdPid,
  receiveDatagram,
  watchReadable,
} from '../src/index.js';

const kernel = execFileSync('uname', ['-r'], { encoding: 'utf8' });
const [major, minor] = kernel.split('.').map(Number) as [number, number];
const atLeast = (a: number, b: number): boolean => major > a || (major === a && minor >= b);

function notifySocket(): { fd: number; path: string } {
  const path = `pidfd-test/${process.pid}/${Math.random().toString(36).slice(2)}`;
  const s = openSocket({ kind: 'datagram', address: { family: 'unix', path, abstract: true }, passCredentials: true });
  return { fd: s.fd, path };
}

/** python3 sending `msg` to the abstract socket `path`, then exiting (reaped by execFileSync). */
function sendFromExitedProcess(path: string, msg: string): void {
  execFileSync('python3', [
    '-c',
    `import socket; s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendto(${JSON.stringify(msg)}.encode(), "\\0${path}")`,
  ]);
}

describe.runIf(atLeast(6, 5))('SO_PASSPIDFD / SCM_PIDFD', () => {
  it('a datagram carries its sender pidfd; a reaped sender reads Pid: -1 (its exit kept from 6.15)', () => {
    const { fd, path } = notifySocket();
    try {
      expect(passPidfd(fd)).toBe(true);
      sendFromExitedProcess(path, 'READY=1');
      const d = receiveDatagram(fd);
      expect(d?.data.toString()).toBe('READY=1');
      expect(d?.pidfd).toBeGreaterThanOrEqual(0);
      const pidfd = d?.pidfd as number;
      expect(pidfdPid(pidfd)).toBe(-1);
      if (atLeast(6, 15)) expect(pidfdExit(pidfd)).toEqual({ code: 0, signal: null });
      close(pidfd);
    } finally {
      close(fd);
    }
  });

  it('without SO_PASSPIDFD: no pidfd (-1), the credentials as before', () => {
    const { fd, path } = notifySocket();
    try {
      sendFromExitedProcess(path, 'X=1');
      const d = receiveDatagram(fd);
      expect(d?.pidfd).toBe(-1);
      expect(d?.pid).toBeGreaterThan(0);
    } finally {
      close(fd);
    }
  });
});

describe.runIf(atLeast(5, 3))('pidfd_open() of a process that is not our child', () => {
  it('names it, polls readable when it exits, gives its status once its parent reaped it', async () => {
    // sh starts python in the background, reports its PID and waits for it: python is its child.
    const sh = spawn('sh', ['-c', 'python3 -c "import sys; sys.stdin.read(); sys.exit(3)" & echo $!; wait'], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const [line] = (await once(sh.stdout, 'data')) as [Buffer];
    const pid = Number(line.toString().trim());
    const pidfd = openPidfd(pid);
    try {
      expect(pidfdPid(pidfd)).toBe(pid);
      expect(pidfdExit(pidfd)).toBeNull();
      const exited = new Promise<void>((resolve) => {
        const w = watchReadable(pidfd, () => {
          w.stop();
          resolve();
        });
      });
      sh.stdin.end(); // python reads EOF and exits 3
      await exited;
      await once(sh, 'exit'); // the shell has reaped it
      expect(pidfdPid(pidfd)).toBe(-1);
      if (atLeast(6, 15)) expect(pidfdExit(pidfd)).toEqual({ code: 3, signal: null });
      expect(() => openPidfd(pid)).toThrow(/ESRCH/);
    } finally {
      close(pidfd);
    }
  });
});
