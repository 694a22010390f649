/**
 * The daemon's notify socket (systemd's /run/systemd/notify): one AF_UNIX datagram socket with
 * SO_PASSCRED (and SO_PASSPIDFD where the kernel has it, 6.5+) whose address every service gets as
 * NOTIFY_SOCKET. Each datagram carries the sender's PID (SCM_CREDENTIALS), its pidfd (SCM_PIDFD) and
 * maybe fds (SCM_RIGHTS); the sender is matched to a service by its main or control PID, or else by
 * its session (services lead their own session, our stand-in for a cgroup). The service then applies
 * NotifyAccess= and the message.
 *
 * With the pidfd the sender is pinned as 257's manager_dispatch_notify_fd() pins it: the PID it
 * names now (its fdinfo `Pid:`) must be the credentials' one, and the session read from /proc is
 * checked against it afterwards, so a PID reused since the send is never taken for the sender. A
 * sender that has exited but not been reaped is still mapped by its session; one already reaped
 * (`Pid: -1`) can no longer be: 257 drops it ("Notify sender died before message is processed"),
 * here too, but for the main and control processes, which are our children (257, their reaper,
 * reads its notifications before it reaps them, so for it they are never gone yet).
 */
import { readFileSync } from 'node:fs';
import type { ReceivedDatagram } from '@mptcp/native';
import { messageOf } from './errors.js';
import { randomHex } from './random-id.js';
import type { Logger } from './logger.js';
import type { NativeApi, ReadableWatch } from './native-binding.js';
import { NOTIFY_BUFFER_MAX, type NotifyMessage, parseNotifyMessage } from './notify-message.js';

/** The sender of one notify datagram. */
export interface NotifySender {
  pid: number;
  uid: number;
  gid: number;
}

/** What a service exposes to the notify socket. */
export interface NotifyTarget {
  readonly name: string;
  /** How well `pid` belongs to this service: 'main', 'control', 'member' (same session) or undefined. */
  relation(pid: number, session: number | undefined): 'main' | 'control' | 'member' | undefined;
  /** Applies one message; takes ownership of `fds` (closes what it does not keep). */
  onNotify(message: NotifyMessage, sender: NotifySender, relation: 'main' | 'control' | 'member', fds: number[]): void;
}

/** The session id of a live process (/proc/PID/stat field 6), or undefined. */
export function sessionOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm may contain spaces and ')': the fields start after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const sid = Number(rest[3]);
    return Number.isInteger(sid) ? sid : undefined;
  } catch {
    return undefined;
  }
}

export class NotifySocket {
  private readonly targets = new Set<NotifyTarget>();
  private watch: ReadableWatch | undefined;
  private fd: number | undefined;
  /** `@…` (abstract) — what NOTIFY_SOCKET says. */
  readonly address: string;

  constructor(
    private readonly native: NativeApi & Required<Pick<NativeApi, 'receiveDatagram'>>,
    private readonly log: Logger,
    address?: string,
  ) {
    // Abstract: nothing to clean up after a crash, and no directory permissions for User= services.
    this.address = address ?? `@mptcpd-lite/notify/${process.pid}-${randomHex(4)}`;
  }

  /** Whether the addon can run a notify socket at all. */
  static supported(native: NativeApi): native is NativeApi & Required<Pick<NativeApi, 'receiveDatagram'>> {
    return typeof native.receiveDatagram === 'function';
  }

  open(): void {
    if (this.fd !== undefined) return;
    const abstract = this.address.startsWith('@');
    const path = abstract ? this.address.slice(1) : this.address;
    const opened = this.native.openSocket({
      kind: 'datagram',
      address: { family: 'unix', path, abstract },
      passCredentials: true,
      receiveBuffer: 8 * 1024 * 1024,
    });
    this.fd = opened.fd;
    try {
      this.native.passPidfd?.(opened.fd);
    } catch (err) {
      // As 257: the socket works without pidfds, senders are then looked up by PID only.
      this.log.warn(`Failed to enable SO_PASSPIDFD for notify socket, ignoring: ${messageOf(err)}`);
    }
    this.watch = this.native.watchReadable(opened.fd, (error) => {
      if (error) {
        this.log.error(`Notify socket ${this.address} failed: ${error.message}`);
        return;
      }
      this.drain();
    });
  }

  register(target: NotifyTarget): void {
    this.targets.add(target);
  }

  unregister(target: NotifyTarget): void {
    this.targets.delete(target);
  }

  /**
   * Reads what is queued now, without waiting for the event loop's poll: a timer about to act on a
   * service (the watchdog) first takes in what the service already said, as systemd's notify event
   * source outranks its timers.
   */
  flush(): void {
    this.drain();
  }

  private drain(): void {
    const fd = this.fd;
    if (fd === undefined) return;
    // Bounded: a flood from one service cannot starve the event loop.
    for (let i = 0; i < 64; i++) {
      let d: ReceivedDatagram | null;
      try {
        d = this.native.receiveDatagram(fd);
      } catch (err) {
        this.log.warn(`Failed to receive notification message: ${messageOf(err)}`);
        return;
      }
      if (d === null) return;
      this.dispatch(d);
    }
  }

  private closeAll(fds: readonly number[]): void {
    for (const f of fds) {
      try {
        this.native.close(f);
      } catch {
        // Already gone.
      }
    }
  }

  private dispatch(d: ReceivedDatagram): void {
    const pidfd = typeof d.pidfd === 'number' && d.pidfd >= 0 ? d.pidfd : undefined;
    try {
      this.dispatchPinned(d, pidfd);
    } finally {
      if (pidfd !== undefined) this.closeAll([pidfd]);
    }
  }

  /**
   * The sender's session, read through its pidfd when there is one: `reaped` when the process the
   * pidfd names is gone (or went while /proc was read), `refused` when the pidfd names another PID.
   */
  private senderSession(
    pid: number,
    pidfd: number | undefined,
  ): { session: number | undefined; reaped: boolean; refused?: string } {
    const api = this.native.pidfd;
    if (pidfd === undefined || !api) return { session: sessionOf(pid), reaped: false };
    const now = api.pid(pidfd);
    if (now === -1) return { session: undefined, reaped: true };
    if (now === undefined || now === 0)
      return { session: undefined, reaped: false, refused: 'Failed to pin notify sender, ignoring message.' };
    if (now !== pid)
      return {
        session: undefined,
        reaped: false,
        refused: `Got SCM_PIDFD for process ${now} but SCM_CREDENTIALS for process ${pid}. Ignoring.`,
      };
    const session = sessionOf(pid);
    // pidref_verify(): still that process, so /proc/PID was its entry and not a successor's.
    if (api.pid(pidfd) !== pid) return { session: undefined, reaped: true };
    return { session, reaped: false };
  }

  private dispatchPinned(d: ReceivedDatagram, pidfd: number | undefined): void {
    if (d.truncated || d.data.length > NOTIFY_BUFFER_MAX) {
      this.log.warn('Got overly long notification datagram, ignoring.');
      this.closeAll(d.fds);
      return;
    }
    if (d.pid <= 0) {
      this.log.warn('Got notification datagram lacking credential information, ignoring.');
      this.closeAll(d.fds);
      return;
    }
    const sender = this.senderSession(d.pid, pidfd);
    if (sender.refused !== undefined) {
      this.log.warn(sender.refused);
      this.closeAll(d.fds);
      return;
    }
    let target: NotifyTarget | undefined;
    let relation: 'main' | 'control' | 'member' | undefined;
    const session = sender.session;
    for (const t of this.targets) {
      const r = t.relation(d.pid, session);
      if (r === undefined) continue;
      // The main/control PID wins over session membership.
      if (!target || (relation === 'member' && r !== 'member')) {
        target = t;
        relation = r;
      }
    }
    if (!target || !relation) {
      if (sender.reaped) this.log.debug('Notify sender died before message is processed. Ignoring.');
      else this.log.warn(`Cannot find unit for notify message of PID ${d.pid}, ignoring.`);
      this.closeAll(d.fds);
      return;
    }
    try {
      target.onNotify(parseNotifyMessage(d.data), { pid: d.pid, uid: d.uid, gid: d.gid }, relation, d.fds);
    } catch (err) {
      this.log.error(`Failed to process notification message: ${messageOf(err)}`, { unit: target.name });
    }
  }

  close(): void {
    this.watch?.stop();
    this.watch = undefined;
    if (this.fd !== undefined) this.closeAll([this.fd]);
    this.fd = undefined;
    this.targets.clear();
  }
}
