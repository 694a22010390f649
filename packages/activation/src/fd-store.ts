/**
 * A service's file descriptor store (FileDescriptorStoreMax=): fds a service handed over with
 * FDSTORE=1 come back on its next start after the socket fds, named in LISTEN_FDNAMES, the most
 * recently stored first (service.c service_add_fd_store() prepends, service_collect_fds() walks
 * the list). An fd that is the same open file as one already stored is not stored twice, and one
 * that hangs up while stored (EPOLLHUP/EPOLLERR: its peer or its pipe's last writer is gone) is
 * dropped, unless it came with FDPOLL=0. The store owns its fds: it closes what it drops.
 */
import { messageOf } from './errors.js';
import type { Logger } from './logger.js';

export interface StoredFd {
  fd: number;
  name: string;
  /** FDPOLL=0 turns off dropping the fd when it hangs up. */
  poll: boolean;
}

/** A hang-up watch over a set of fds (@mptcp/native's watchHangup()). */
export interface HangupWatchLike {
  /** `'not-pollable'`: the kernel cannot poll this fd (EPERM), it is kept unwatched; other errors throw. */
  add(fd: number): 'watched' | 'not-pollable';
  remove(fd: number): void;
  close(): void;
}

/** What the store needs of the syscall layer beyond close(); without it no fd is watched or compared. */
export interface FdStorePrimitives {
  watchHangup(callback: (fd: number, event: 'EPOLLHUP' | 'EPOLLERR') => void): HangupWatchLike;
  /** Whether two fds are the same open file description (systemd's same_fd()). */
  sameOpenFile(a: number, b: number): boolean;
}

/** sd-daemon's fdname_is_valid(): at most 255 printable characters, no ':'. */
export function fdNameValid(name: string): boolean {
  return name.length > 0 && name.length <= 255 && !/[:\x00-\x1f\x7f]/.test(name);
}

export class FdStore {
  /** Newest first: the order the next start passes them in. */
  private readonly entries: StoredFd[] = [];
  private watch: HangupWatchLike | undefined;

  constructor(
    private readonly unit: string,
    private readonly close: (fd: number) => void,
    private readonly log: Logger,
    private readonly primitives?: FdStorePrimitives,
  ) {}

  get size(): number {
    return this.entries.length;
  }

  /** The stored fds, the most recently stored first. */
  list(): readonly StoredFd[] {
    return this.entries;
  }

  /**
   * Takes the fds of one FDSTORE=1 message under `name`, up to `max` entries in all: once the store
   * is full, this and the remaining fds are closed with one warning (service_add_fd_store_set());
   * a duplicate of a stored fd is closed and not counted. Returns how many were stored.
   */
  add(fds: readonly number[], name: string, poll: boolean, max: number): number {
    let taken = 0;
    for (let i = 0; i < fds.length; i++) {
      const fd = fds[i] as number;
      if (this.entries.length >= max) {
        this.log.warn(`Cannot store more fds than FileDescriptorStoreMax=${max}, closing remaining.`, {
          unit: this.unit,
        });
        for (const rest of fds.slice(i)) this.safeClose(rest);
        break;
      }
      let outcome: 'stored' | 'duplicate';
      try {
        outcome = this.addOne(fd, name, poll);
      } catch (err) {
        this.log.error(`Failed to add fd to store: ${messageOf(err)}`, { unit: this.unit });
        for (const rest of fds.slice(i)) this.safeClose(rest);
        break;
      }
      if (outcome === 'stored') taken += 1;
    }
    return taken;
  }

  private addOne(fd: number, name: string, poll: boolean): 'stored' | 'duplicate' {
    const same = this.primitives?.sameOpenFile;
    if (same && this.entries.some((e) => same(e.fd, fd))) {
      this.log.debug(`Suppressing duplicate fd ${fd} in fd store.`, { unit: this.unit });
      this.safeClose(fd);
      return 'duplicate';
    }
    // EPERM (a regular file, /dev/null): not pollable, which is fine — such an fd never hangs up.
    if (poll && this.primitives) {
      this.watch ??= this.primitives.watchHangup((hung, event) => this.onHangup(hung, event));
      this.watch.add(fd);
    }
    this.entries.unshift({ fd, name, poll });
    this.log.debug(`Added fd ${fd} (${name}) to fd store.`, { unit: this.unit });
    return 'stored';
  }

  /** on_fd_store_io(): a stored fd hung up; it goes. */
  private onHangup(fd: number, event: 'EPOLLHUP' | 'EPOLLERR'): void {
    const i = this.entries.findIndex((e) => e.fd === fd);
    if (i < 0) return;
    const e = this.entries[i] as StoredFd;
    this.log.debug(`Received ${event} on stored fd ${fd} (${e.name}), closing.`, { unit: this.unit });
    this.entries.splice(i, 1);
    this.safeClose(fd);
  }

  /** FDSTOREREMOVE=1: drops (and closes) every fd stored under `name`. */
  remove(name: string): number {
    let n = 0;
    for (let i = 0; i < this.entries.length;) {
      const e = this.entries[i] as StoredFd;
      if (e.name !== name) {
        i += 1;
        continue;
      }
      this.log.debug(`Got explicit request to remove fd ${e.fd} (${name}), closing.`, { unit: this.unit });
      this.entries.splice(i, 1);
      this.drop(e);
      n += 1;
    }
    return n;
  }

  /**
   * The service stopped: FileDescriptorStorePreserve= `no` drops the store every time, `restart`
   * (the default) unless it restarts, `yes` never.
   */
  releaseUnlessPreserved(mode: 'no' | 'yes' | 'restart' | undefined, restarting: boolean): void {
    if (mode === 'yes') return;
    if ((mode ?? 'restart') === 'restart' && restarting) return;
    if (this.entries.length > 0)
      this.log.debug(`Releasing ${this.entries.length} fd(s) from the fd store.`, { unit: this.unit });
    this.release();
  }

  /** Drops everything (FileDescriptorStorePreserve= says the store ends, or the daemon stops). */
  release(): void {
    for (const e of this.entries.splice(0)) this.drop(e);
    this.watch?.close();
    this.watch = undefined;
  }

  /** Unwatched before closed: the epoll entry would outlive the fd while a dup of it exists elsewhere. */
  private drop(e: StoredFd): void {
    if (e.poll) this.watch?.remove(e.fd);
    this.safeClose(e.fd);
  }

  private safeClose(fd: number): void {
    try {
      this.close(fd);
    } catch {
      // Already closed: nothing left to release.
    }
  }
}
