/**
 * A service's file descriptor store (FileDescriptorStoreMax=): fds a service handed over with
 * FDSTORE=1 come back on its next start after the socket fds, named in LISTEN_FDNAMES. The store
 * owns its fds: it closes what it drops.
 */
import type { Logger } from './logger.js';

export interface StoredFd {
  fd: number;
  name: string;
  /** FDPOLL=0 turns off dropping the fd when it hangs up. */
  poll: boolean;
}

/** sd-daemon's fdname_is_valid(): at most 255 printable characters, no ':'. */
export function fdNameValid(name: string): boolean {
  return name.length > 0 && name.length <= 255 && !/[:\x00-\x1f\x7f]/.test(name);
}

export class FdStore {
  private readonly entries: StoredFd[] = [];

  constructor(
    private readonly unit: string,
    private readonly close: (fd: number) => void,
    private readonly log: Logger,
  ) {}

  get size(): number {
    return this.entries.length;
  }

  list(): readonly StoredFd[] {
    return this.entries;
  }

  /**
   * Takes `fds` under `name`, up to `max` entries in all; the rest are closed with a warning
   * (service_add_fd_store() fails with EXFULL).
   */
  add(fds: readonly number[], name: string, poll: boolean, max: number): number {
    let taken = 0;
    for (const fd of fds) {
      if (this.entries.length >= max) {
        this.log.warn(`Hit fd store limit (FileDescriptorStoreMax=${max}), closing.`, { unit: this.unit });
        this.safeClose(fd);
        continue;
      }
      this.entries.push({ fd, name, poll });
      taken += 1;
    }
    if (taken > 0) this.log.debug(`Added ${taken} fd(s) to the fd store as '${name}'.`, { unit: this.unit });
    return taken;
  }

  /** FDSTOREREMOVE=1: drops (and closes) every fd stored under `name`. */
  remove(name: string): number {
    let n = 0;
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i] as StoredFd;
      if (e.name !== name) continue;
      this.entries.splice(i, 1);
      this.safeClose(e.fd);
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
    for (const e of this.entries.splice(0)) this.safeClose(e.fd);
  }

  private safeClose(fd: number): void {
    try {
      this.close(fd);
    } catch {
      // Already closed: nothing left to release.
    }
  }
}
