/**
 * Primitives for a file descriptor store (systemd's FileDescriptorStoreMax=): a watch that reports
 * when a held fd hangs up (EPOLLHUP/EPOLLERR — its peer closed, its pipe lost its last writer), and
 * whether two fds are the same open file. The store's policy (names, limits, what to log) is the
 * caller's.
 */
import { constants } from 'node:os';
import { binding, type NativeBinding, type Result } from './binding.js';
import { check } from './errors.js';
import { watchReadableOwnPoll, type FdWatcher } from './watch.js';

/** The addon's fd-store functions (src/addon_fdstore.cc). */
interface FdStoreBinding {
  epollCreate(): number;
  epollWatchHangup(epfd: number, fd: number): number;
  epollUnwatch(epfd: number, fd: number): number;
  epollPending(epfd: number): Result<Array<{ fd: number; events: number }>>;
  sameFd(a: number, b: number): Result<boolean>;
  readonly epollEvents: { EPOLLHUP: number; EPOLLERR: number };
}

function native(): NativeBinding & FdStoreBinding {
  return binding() as NativeBinding & FdStoreBinding;
}

/** Whether the loaded addon has the fd-store functions (an older prebuild may not). */
export function fdStorePrimitivesSupported(): boolean {
  const n = binding() as Partial<FdStoreBinding>;
  return typeof n.epollCreate === 'function' && typeof n.sameFd === 'function';
}

/** What a watched fd reported: EPOLLERR wins when both are set (systemd's on_fd_store_io()). */
export type HangupEvent = 'EPOLLHUP' | 'EPOLLERR';

export type HangupCallback = (fd: number, event: HangupEvent) => void;

export interface HangupWatch {
  /**
   * Watches `fd` for a hang-up only (epoll events 0: data arriving does not wake anyone). Returns
   * `'not-pollable'` when the kernel cannot poll the fd (EPERM: a regular file, /dev/null) — such an
   * fd never hangs up. Other errors throw an MptcpSocketError (syscall epoll_ctl).
   */
  add(fd: number): 'watched' | 'not-pollable';
  /** Stops watching `fd` (call it before closing the fd); a no-op for an fd not watched. */
  remove(fd: number): void;
  /** How many fds are watched. */
  readonly size: number;
  /** Stops watching everything; the watched fds stay open (they are the caller's). */
  close(): void;
}

/**
 * One epoll set for the fds of one owner, registered with events 0 (the kernel always reports
 * EPOLLHUP and EPOLLERR); the set's own fd is watched readable on the libuv loop, without keeping
 * the loop alive. A reported fd is removed from the set before `callback` runs, once; closing it
 * is up to the callback.
 */
export function watchHangup(callback: HangupCallback): HangupWatch {
  const watched = new Set<number>();
  let epfd = -1;
  let poll: FdWatcher | undefined;

  const drain = (): void => {
    if (epfd < 0) return;
    const n = native();
    const pending = check(n.epollPending(epfd), { syscall: 'epoll_wait' });
    for (const { fd, events } of pending) {
      if (!watched.has(fd)) continue;
      watched.delete(fd);
      n.epollUnwatch(epfd, fd);
      callback(fd, events & n.epollEvents.EPOLLERR ? 'EPOLLERR' : 'EPOLLHUP');
    }
    if (watched.size === 0) shutDown();
  };

  const shutDown = (): void => {
    poll?.stop();
    poll = undefined;
    if (epfd >= 0) native().close(epfd);
    epfd = -1;
  };

  return {
    add(fd: number) {
      const n = native();
      if (epfd < 0) {
        epfd = check(n.epollCreate(), { syscall: 'epoll_create1' });
        // Its own uv_poll: inside the shared poll set, a stored epoll fd would nest one level deeper.
        const w = watchReadableOwnPoll(epfd, () => drain());
        w.ref(false);
        poll = w;
      }
      const r = n.epollWatchHangup(epfd, fd);
      if (r === -constants.errno.EPERM) {
        if (watched.size === 0) shutDown();
        return 'not-pollable';
      }
      check(r, { syscall: 'epoll_ctl' });
      watched.add(fd);
      return 'watched';
    },
    remove(fd: number) {
      if (!watched.delete(fd)) return;
      native().epollUnwatch(epfd, fd);
      if (watched.size === 0) shutDown();
    },
    get size() {
      return watched.size;
    },
    close() {
      for (const fd of watched) native().epollUnwatch(epfd, fd);
      watched.clear();
      shutDown();
    },
  };
}

/**
 * A close-on-exec duplicate of `fd` (fcntl F_DUPFD_CLOEXEC): a second reference that keeps the
 * open file alive for a holder (a stored fd, a connection kept for a service's control commands)
 * after the caller closed its own.
 */
export function duplicateFd(fd: number): number {
  return check(native().dup(fd), { syscall: 'fcntl' });
}

/**
 * Whether `a` and `b` are the same open file description (a dup() or an fd passed twice), not
 * merely the same file: systemd's same_fd() (F_DUPFD_QUERY, else kcmp(KCMP_FILE), else a probe).
 */
export function sameOpenFile(a: number, b: number): boolean {
  return check(native().sameFd(a, b), { syscall: 'fcntl' });
}
