/**
 * Readiness on an fd without touching its data: libuv's uv_poll, so the event loop is never
 * blocked. The callback fires while the condition holds (level-triggered): an activation daemon
 * stops the watcher in the callback and hands the fd over, or accepts until accept() gives null.
 */
import { binding, type PollHandle } from './binding.js';
import { check, syscallError, type MptcpSocketError } from './errors.js';

export interface FdWatcher {
  /** Stops watching; idempotent. The process is never kept alive by a stopped watcher. */
  stop(): void;
  /** Whether the watcher is still active. */
  readonly active: boolean;
  /** Keep the event loop alive while active (default true) — or not. */
  ref(on: boolean): void;
}

export type WatchCallback = (error: MptcpSocketError | null) => void;

// Active watchers stay reachable here, so a watcher whose object the caller dropped is not
// garbage-collected (and silently stopped) while it should still fire.
const active = new Set<PollHandle>();

const NO_EVENTS: FdEvents = Object.freeze({ readable: false, writable: false });
/** The decoder of watchers whose callback takes no events (one function, not a closure per watcher). */
const noEvents = (): FdEvents => NO_EVENTS;

/**
 * One uv_poll watcher. A class, not an object literal of closures: a daemon keeps one per listening
 * socket for its whole life, and a literal with its own getter and functions cost each one ~0.65 KB
 * of heap (three closures, their context, a map and descriptors of its own, dictionary properties)
 * against ~0.1 KB here (1,000 socket units: ~0.6 MB less idle RSS).
 */
class PollWatcher implements FdWatcher {
  private handle: PollHandle | undefined;

  constructor(
    fd: number,
    events: number,
    callback: (error: MptcpSocketError | null, ready: FdEvents) => void,
    decode: (events: number) => FdEvents = noEvents,
  ) {
    this.handle = check(
      binding().pollStart(fd, events, (status, ready) => {
        if (status < 0) {
          // libuv stops the watcher itself and reports POLLERR as EBADF; the caller reads SO_ERROR.
          this.stop();
          callback(syscallError(-status, { syscall: 'poll' }), NO_EVENTS);
          return;
        }
        callback(null, decode(ready));
      }),
      { syscall: 'poll' },
    );
    active.add(this.handle);
  }

  stop(): void {
    const handle = this.handle;
    if (!handle) return;
    binding().pollStop(handle);
    active.delete(handle);
    this.handle = undefined;
  }

  get active(): boolean {
    return this.handle !== undefined;
  }

  ref(on: boolean): void {
    if (this.handle) binding().pollRef(this.handle, on);
  }
}

function watch(fd: number, events: number, callback: WatchCallback): FdWatcher {
  return new PollWatcher(fd, events, (error) => callback(error));
}

/**
 * Calls `callback` when `fd` is readable (a listening socket: a connection is queued; a datagram
 * socket: a datagram is waiting), without accepting or reading. To restart after stop(), call
 * watchReadable again. The fd must not be one that libuv already watches (e.g. a net.Server's), and
 * uv_poll sets O_NONBLOCK on it.
 */
export function watchReadable(fd: number, callback: WatchCallback): FdWatcher {
  return watch(fd, binding().pollEvents.READABLE, callback);
}

/** Calls `callback` when `fd` is writable (a non-blocking connect() has finished). */
export function watchWritable(fd: number, callback: WatchCallback): FdWatcher {
  return watch(fd, binding().pollEvents.WRITABLE, callback);
}

/** What a watchEvents() watcher waits for, and what its callback found. */
export interface FdEvents {
  readable: boolean;
  writable: boolean;
}

/**
 * One watcher for both directions of an fd (libuv allows a single poll handle per fd: a
 * watchReadable() and a watchWritable() on the same fd would fight). The callback gets which of the
 * asked-for events are ready; a peer hang-up shows as readable (read() then returns 0 or the error).
 * To wait for other events, stop() and call watchEvents again.
 */
export function watchEvents(
  fd: number,
  want: FdEvents,
  callback: (error: MptcpSocketError | null, ready: FdEvents) => void,
): FdWatcher {
  const ev = binding().pollEvents;
  const mask = (want.readable ? ev.READABLE | ev.DISCONNECT : 0) | (want.writable ? ev.WRITABLE : 0);
  return new PollWatcher(fd, mask, callback, (events) => ({
    readable: (events & (ev.READABLE | ev.DISCONNECT)) !== 0,
    writable: (events & ev.WRITABLE) !== 0,
  }));
}
