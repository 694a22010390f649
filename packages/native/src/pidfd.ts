/**
 * pidfds for processes that are not our children: open one (pidfd_open), read which PID it names
 * now (the `Pid:` line of its /proc/self/fdinfo entry: -1 once reaped), and read how it ended once
 * whoever reaps it has (PIDFD_GET_INFO, Linux 6.15). A pidfd is readable (watchReadable) when its
 * process has exited and reports a hang-up (watchHangup) once it has been reaped.
 */
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { binding } from './binding.js';
import { check } from './errors.js';

/** The addon's pidfd functions (src/addon_dgram.cc); absent in an older build. */
interface PidfdBinding {
  pidfdOpen(pid: number): number;
  pidfdExitStatus(pidfd: number): { status: number } | null | number;
}

function native(): PidfdBinding {
  return binding() as unknown as PidfdBinding;
}

/** Whether the loaded addon has pidfdOpen/pidfdExitStatus (an older prebuild may not). */
export function pidfdSupported(): boolean {
  const b = binding() as unknown as Partial<PidfdBinding>;
  return typeof b.pidfdOpen === 'function' && typeof b.pidfdExitStatus === 'function';
}

/**
 * `pidfd_open(pid, 0)`: a pidfd (close-on-exec) for any process, our child or not. Throws an
 * MptcpSocketError (syscall pidfd_open): ESRCH when it is gone, ENOSYS before Linux 5.3.
 */
export function openPidfd(pid: number): number {
  return check(native().pidfdOpen(pid), { syscall: 'pidfd_open' });
}

/**
 * The PID the pidfd names in our PID namespace (systemd's pidfd_get_pid()): a number while the
 * process runs or waits as a zombie, `-1` once it has been reaped, `0` when it lives in a PID
 * namespace we cannot see, undefined when `fd` is no pidfd.
 */
export function pidfdPid(fd: number): number | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/self/fdinfo/${fd}`, 'latin1');
  } catch {
    return undefined;
  }
  const m = /^Pid:\s*(-?\d+)\s*$/m.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** How a process ended, decoded from its wait status. */
export interface PidfdExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

let signalNames: Map<number, NodeJS.Signals> | undefined;

function signalName(n: number): NodeJS.Signals | null {
  signalNames ??= new Map(
    Object.entries(constants.signals as Record<string, number>).map(([k, v]) => [v, k as NodeJS.Signals]),
  );
  return signalNames.get(n) ?? null;
}

/**
 * How the process of `pidfd` ended, once it has been reaped by whoever reaps it (PIDFD_GET_INFO
 * with PIDFD_INFO_EXIT): `null` while it runs or waits as a zombie, `undefined` when the kernel
 * cannot tell (before 6.15, or no exit information kept).
 */
export function pidfdExit(pidfd: number): PidfdExit | null | undefined {
  const r = native().pidfdExitStatus(pidfd);
  if (typeof r === 'number') {
    if (r === -constants.errno.ENOTTY || r === -constants.errno.EINVAL) return undefined;
    check(r, { syscall: 'ioctl' });
    return undefined;
  }
  if (r === null) return null;
  const status = r.status;
  if ((status & 0x7f) === 0) return { code: (status >> 8) & 0xff, signal: null };
  return { code: null, signal: signalName(status & 0x7f) };
}
