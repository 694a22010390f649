/**
 * Readiness on an fd without touching its data: libuv's uv_poll, so the event loop is never
 * blocked. The callback fires while the condition holds (level-triggered): an activation daemon
 * stops the watcher in the callback and hands the fd over, or accepts until accept() gives null.
 */
import { binding, type NativeBinding, type PollHandle } from './binding.js';
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

/** The poll set's functions (src/addon_poll.cc); absent in an addon built before them. */
interface PollSetBinding {
  epollCreate(): number;
  pollSetAdd(epfd: number, fd: number, events: number, token: number): number;
  pollSetRemove(epfd: number, fd: number): number;
  pollSetWait(epfd: number, out: Uint32Array): number;
  readonly pollSetEvents: { EPOLLIN: number; EPOLLOUT: number; EPOLLRDHUP: number; EPOLLHUP: number; EPOLLERR: number };
}

type Ready = (error: MptcpSocketError | null, ready: FdEvents) => void;
type Decode = (events: number) => FdEvents;

const NO_EVENTS: FdEvents = Object.freeze({ readable: false, writable: false });
/** The decoder of watchers whose callback takes no events (one function, not a closure per watcher). */
const noEvents = (): FdEvents => NO_EVENTS;

/** Ready fds handled per wake-up of the set; more wait for the next loop iteration (level-triggered). */
const SET_BATCH = 256;

/**
 * All watchers of this process share one epoll set of their own, whose epoll fd one uv_poll
 * watches: adding a watcher is one epoll_ctl (a uv_poll per fd costs four syscalls and ~0.5 KB of
 * libuv handle, N-API references and async context; a daemon keeps one per listening socket).
 * Level-triggered like uv_poll: a watcher fires on every wake-up while its condition holds. One
 * difference: the watchers ready in one wake-up run one after the other in one callback from the
 * event loop, so process.nextTick() callbacks and promise reactions queued by the first run after
 * the last of them, not between them (each uv_poll was its own callback).
 */
class PollSet {
  readonly epfd: number;
  private readonly handle: PollHandle;
  private readonly ready = new Uint32Array(2 * SET_BATCH);
  /** Active watchers by token (keeps them reachable: a dropped watcher still fires until stopped). */
  private readonly watchers = new Map<number, SetWatcher>();
  /** The token registered for each fd: a stop() whose fd was closed and reused is not the new one's. */
  private readonly tokenOfFd = new Map<number, number>();
  private nextToken = 0;
  private refs = 0;
  private refed = true;

  constructor(private readonly n: NativeBinding & PollSetBinding) {
    this.epfd = check(n.epollCreate(), { syscall: 'epoll_create1' });
    this.handle = check(
      n.pollStart(this.epfd, n.pollEvents.READABLE, () => this.dispatch()),
      { syscall: 'poll' },
    );
    this.updateRef();
  }

  /** Registers `w` for `events` (epoll bits) on `fd`; its token. Throws the errno (syscall 'poll'). */
  add(w: SetWatcher, fd: number, events: number): number {
    let token = this.nextToken;
    do token = token >= 0x7fffffff ? 1 : token + 1;
    while (this.watchers.has(token));
    this.nextToken = token;
    check(this.n.pollSetAdd(this.epfd, fd, events, token), { syscall: 'poll' });
    // The kernel took fd although a watcher still had it: that fd was closed without stop() (the
    // kernel dropped its entry with the file) and the number reused. The old watcher can never fire
    // again; it is detached so that its late stop() leaves the new entry alone.
    const stale = this.tokenOfFd.get(fd);
    if (stale !== undefined) this.watchers.get(stale)?.detach();
    this.watchers.set(token, w);
    this.tokenOfFd.set(fd, token);
    return token;
  }

  /** Forgets `token`; removes fd from the epoll set while it is still this token's. */
  remove(token: number, fd: number): void {
    if (!this.watchers.delete(token)) return;
    if (this.tokenOfFd.get(fd) !== token) return;
    this.tokenOfFd.delete(fd);
    // ENOENT/EBADF: the fd was closed before stop() (the kernel dropped it with its last reference).
    this.n.pollSetRemove(this.epfd, fd);
  }

  /** Forgets `token` without touching the epoll set (its fd's entry belongs to another watcher now). */
  forget(token: number): void {
    this.watchers.delete(token);
  }

  ref(delta: number): void {
    this.refs += delta;
    this.updateRef();
  }

  private updateRef(): void {
    const on = this.refs > 0;
    if (on === this.refed) return;
    this.refed = on;
    this.n.pollRef(this.handle, on);
  }

  private dispatch(): void {
    const count = this.n.pollSetWait(this.epfd, this.ready);
    let failure: { error: unknown } | undefined;
    for (let i = 0; i < count; i++) {
      // Looked up per event: a callback may stop another watcher of the same batch, or stop one and
      // start a new one on the same fd (a new token, so the old event is not delivered to it).
      const w = this.watchers.get(this.ready[2 * i] as number);
      if (w === undefined) continue;
      try {
        w.fire(this.ready[2 * i + 1] as number);
      } catch (error) {
        // The other ready watchers still run; each error reaches 'uncaughtException' as it would
        // from its own uv_poll.
        if (failure === undefined) failure = { error };
        else
          process.nextTick(() => {
            throw error;
          });
      }
    }
    if (failure !== undefined) throw failure.error;
  }
}

let pollSet: PollSet | null | undefined;

/** The process's poll set, or null when the addon predates it (then a uv_poll per watcher). */
function sharedPollSet(): PollSet | null {
  if (pollSet === undefined) {
    const n = binding() as NativeBinding & Partial<PollSetBinding>;
    pollSet = typeof n.pollSetAdd === 'function' ? new PollSet(n as NativeBinding & PollSetBinding) : null;
  }
  return pollSet;
}

/**
 * One watcher in the shared poll set. A class, not an object literal of closures: a daemon keeps
 * one per listening socket for its whole life (~0.1 KB each).
 */
class SetWatcher implements FdWatcher {
  private token = 0;
  private refed = true;

  constructor(
    private readonly set: PollSet,
    private readonly fd: number,
    /** READABLE/WRITABLE/DISCONNECT (libuv's bits, as pollEvents). */
    private readonly want: number,
    private readonly callback: Ready,
    private readonly decode: Decode,
  ) {
    const uv = binding().pollEvents;
    const ep = (binding() as NativeBinding & PollSetBinding).pollSetEvents;
    const events =
      (want & uv.READABLE ? ep.EPOLLIN : 0) |
      (want & uv.WRITABLE ? ep.EPOLLOUT : 0) |
      (want & uv.DISCONNECT ? ep.EPOLLRDHUP : 0);
    this.token = set.add(this, fd, events);
    set.ref(1);
  }

  /** An epoll event for this watcher, decoded as libuv's uv_poll does. */
  fire(events: number): void {
    const ep = (binding() as NativeBinding & PollSetBinding).pollSetEvents;
    if (events & ep.EPOLLERR) {
      // libuv stops the watcher itself and reports POLLERR as EBADF; the caller reads SO_ERROR.
      this.stop();
      this.callback(syscallError(EBADF, { syscall: 'poll' }), NO_EVENTS);
      return;
    }
    const uv = binding().pollEvents;
    // A hang-up alone is reported as what the watcher waits for (libuv's rule): read()/write() tell.
    const hup = (events & ep.EPOLLHUP) !== 0;
    const ready =
      (events & ep.EPOLLIN || (hup && this.want & uv.READABLE) ? uv.READABLE : 0) |
      (events & ep.EPOLLOUT || (hup && this.want & uv.WRITABLE) ? uv.WRITABLE : 0) |
      (events & ep.EPOLLRDHUP || (hup && this.want & uv.DISCONNECT) ? uv.DISCONNECT : 0);
    this.callback(null, this.decode(ready & this.want));
  }

  stop(): void {
    if (this.token === 0) return;
    this.set.remove(this.token, this.fd);
    this.token = 0;
    if (this.refed) this.set.ref(-1);
  }

  /** Its fd was closed and reused by another watcher (PollSet.add()): inactive, nothing to remove. */
  detach(): void {
    if (this.token === 0) return;
    this.set.forget(this.token);
    this.token = 0;
    if (this.refed) this.set.ref(-1);
  }

  get active(): boolean {
    return this.token !== 0;
  }

  ref(on: boolean): void {
    if (this.token === 0 || on === this.refed) return;
    this.refed = on;
    this.set.ref(on ? 1 : -1);
  }
}

/** EBADF: what libuv reports for POLLERR. */
const EBADF = 9;

// Watchers of the per-fd fallback stay reachable here, so a watcher whose object the caller dropped
// is not garbage-collected (and silently stopped) while it should still fire.
const active = new Set<PollHandle>();

/**
 * One uv_poll per watcher: the fallback for an addon without the poll set.
 */
class PollWatcher implements FdWatcher {
  private handle: PollHandle | undefined;

  constructor(fd: number, events: number, callback: Ready, decode: Decode = noEvents) {
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

/**
 * watchReadable() with a uv_poll of its own, outside the shared epoll set: for an fd that is itself
 * an epoll fd (the fd store's hang-up set), which the poll set would nest one level deeper (the
 * kernel allows 4 levels of epoll in epoll: ELOOP beyond). Internal.
 */
export function watchReadableOwnPoll(fd: number, callback: WatchCallback): FdWatcher {
  return new PollWatcher(fd, binding().pollEvents.READABLE, callback);
}

/** A watcher of `events` (pollEvents bits) on `fd`: in the shared poll set when the addon has it. */
function newWatcher(fd: number, events: number, callback: Ready, decode: Decode = noEvents): FdWatcher {
  const set = sharedPollSet();
  return set ? new SetWatcher(set, fd, events, callback, decode) : new PollWatcher(fd, events, callback, decode);
}

function watch(fd: number, events: number, callback: WatchCallback): FdWatcher {
  // The callback itself, no wrapper closure per watcher: it gets (error, ready) and takes the first.
  return newWatcher(fd, events, callback);
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
  return newWatcher(fd, mask, callback, (events) => ({
    readable: (events & (ev.READABLE | ev.DISCONNECT)) !== 0,
    writable: (events & ev.WRITABLE) !== 0,
  }));
}
