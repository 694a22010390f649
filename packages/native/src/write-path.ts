/**
 * The write path for MPTCP sockets, a workaround for a Linux MPTCP sender stall
 * (docs/mptcp-slow-reader-stall.md): a sender that waits for POLLOUT sometimes waits until the
 * MPTCP retransmission timer (~200 ms) although the socket has room again; a send() attempted
 * anyway finds the room and restarts the transfer. Over a veth path (MTU 1500) the stall hit
 * 40–60 times per 256 MiB and cut Node MPTCP to ~0.2 Gbit/s against TCP's 1–4.
 *
 * libuv only writes on POLLOUT, so for an MPTCP socket this module takes over node:net's writes
 * (the socket's Writable `_write`/`_writev`): send() with MSG_DONTWAIT, and while the kernel takes
 * nothing, wait for POLLOUT on a dup of the fd (libuv allows one watcher per fd number) *or* retry
 * after `retryMs` (default 2 ms), whichever comes first. Reads, end(), destroy() and every event
 * stay node:net's. Opt-in: `MPTCP_WRITE_PATH=1` (or `=<ms>`) applies it to the MPTCP sockets
 * @mptcp/native creates, or call useMptcpWritePath() on one socket. It is off by default because a
 * send() per write through the addon costs request/response traffic more than it saves: HTTP/1.1
 * keep-alive over MPTCP ran at 0.57× TCP with it and 1.10× without (autocannon, `bench --only http`).
 */
import * as net from 'node:net';
import { readFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { IPPROTO_MPTCP } from '@mptcp/constants';
import { binding, sysconst, type PollHandle } from './binding.js';
import { syscallError } from './errors.js';
import { tryFdOf } from './fd.js';

/**
 * First retry after this many ms without POLLOUT; each further retry that finds no room waits twice
 * as long, up to MAX_RETRY_MS, and any progress starts over. 2 ms beat a fixed 20 ms in the veth
 * measurements (README); the backoff keeps a socket whose peer really stopped reading cheap.
 */
export const DEFAULT_RETRY_MS = 2;
export const MAX_RETRY_MS = 64;

export interface WritePathOptions {
  /** First retry of send() after this many ms without POLLOUT (default 2; doubles up to 64). */
  retryMs?: number;
}

interface WritePathState {
  fd: number;
  dupFd: number;
  retries: number;
  closed: boolean;
}

const states = new WeakMap<net.Socket, WritePathState>();

/**
 * Whether the write path stays off for the sockets the library creates: it is opt-in, on only when
 * MPTCP_WRITE_PATH is set to 1 or to a retry interval in ms.
 */
export function writePathDisabled(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env['MPTCP_WRITE_PATH'];
  return v === undefined || v === '' || v === '0';
}

/** The retry interval: MPTCP_WRITE_PATH=<ms> (a positive number), else the default. */
export function writePathRetryMs(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env['MPTCP_WRITE_PATH']);
  return Number.isFinite(n) && n > 0 && env['MPTCP_WRITE_PATH'] !== '1' ? n : DEFAULT_RETRY_MS;
}

function isMptcpFd(fd: number): boolean {
  const r = binding().getsockoptInt(fd, sysconst('SOL_SOCKET'), sysconst('SO_PROTOCOL'));
  return typeof r !== 'number' && r.value === IPPROTO_MPTCP;
}

type WriteCallback = (error?: Error | null) => void;

/**
 * Takes over the writes of a connected MPTCP `socket` (see the module comment). A no-op returning
 * false for TCP, for sockets without an fd, and for sockets already using it. Call it once the
 * socket is connected (the library does, in connect() and for its servers' connections).
 */
export function useMptcpWritePath(socket: net.Socket, options: WritePathOptions = {}): boolean {
  if (states.has(socket)) return false;
  const fd = tryFdOf(socket);
  if (fd === undefined || socket.connecting || socket.destroyed) return false;
  const native = binding();
  if (!isMptcpFd(fd)) return false;
  const dupFd = native.dup(fd);
  if (dupFd < 0) return false;
  const retryMs = options.retryMs ?? writePathRetryMs();
  const state: WritePathState = { fd, dupFd, retries: 0, closed: false };
  states.set(socket, state);
  // net's bytesWritten counts what its own _write dispatched plus what is still buffered; ours
  // dispatches instead, so the instance gets the same figure from our counters.
  let dispatched = 0;
  let inFlight = 0;
  Object.defineProperty(socket, 'bytesWritten', {
    configurable: true,
    enumerable: false,
    get: () => dispatched + Math.max(0, socket.writableLength - inFlight),
  });
  let watch: PollHandle | undefined;
  let timer: NodeJS.Timeout | undefined;
  const stopWaiting = (): void => {
    if (watch) native.pollStop(watch);
    watch = undefined;
    if (timer) clearTimeout(timer);
    timer = undefined;
  };
  socket.once('close', () => {
    state.closed = true;
    stopWaiting();
    native.close(dupFd);
  });

  // Sends chunks[i] from offset `at` on; calls back once all is in the kernel (or on an error).
  const writeAll = (chunks: Buffer[], done: WriteCallback): void => {
    inFlight = chunks.reduce((a, c) => a + c.length, 0);
    dispatched += inFlight;
    const callback: WriteCallback = (error) => {
      inFlight = 0;
      done(error);
    };
    let i = 0;
    let at = 0;
    let delay = retryMs;
    const step = (): void => {
      stopWaiting();
      if (state.closed) return callback(syscallError(osConstants.errno.EPIPE, { syscall: 'send' }));
      while (i < chunks.length) {
        const chunk = chunks[i]!;
        if (at >= chunk.length) {
          i++;
          at = 0;
          continue;
        }
        const n = native.send(dupFd, at === 0 ? chunk : chunk.subarray(at));
        if (n >= 0) {
          at += n;
          delay = retryMs;
          continue;
        }
        if (n === -osConstants.errno.EAGAIN) {
          // Wait for POLLOUT, or retry anyway after retryMs: the stall this module exists for.
          const w = native.pollStart(dupFd, native.pollEvents.WRITABLE, () => step());
          if (typeof w === 'number') return callback(syscallError(-w, { syscall: 'poll' }));
          watch = w;
          timer = setTimeout(() => {
            state.retries += 1;
            step();
          }, delay);
          delay = Math.min(delay * 2, Math.max(MAX_RETRY_MS, retryMs));
          return;
        }
        return callback(syscallError(-n, { syscall: 'send' }));
      }
      callback(null);
    };
    step();
  };

  const toBuffer = (chunk: unknown, encoding: BufferEncoding): Buffer =>
    Buffer.isBuffer(chunk)
      ? chunk
      : typeof chunk === 'string'
        ? Buffer.from(chunk, encoding)
        : Buffer.from(chunk as Uint8Array);
  const writable = socket as unknown as {
    _write: (chunk: unknown, encoding: BufferEncoding, cb: WriteCallback) => void;
    _writev: (chunks: Array<{ chunk: unknown; encoding: BufferEncoding }>, cb: WriteCallback) => void;
  };
  writable._write = (chunk, encoding, cb) => writeAll([toBuffer(chunk, encoding)], cb);
  writable._writev = (chunks, cb) =>
    writeAll(
      chunks.map((c) => toBuffer(c.chunk, c.encoding)),
      cb,
    );
  return true;
}

/** How often the write path retried without POLLOUT on `socket` (for benchmarks and tests). */
export function writePathRetries(socket: net.Socket): number {
  return states.get(socket)?.retries ?? 0;
}

/**
 * Bulk tuning, on by default for the MPTCP client sockets @mptcp/native creates and opt-in for
 * servers (bulkTuningFor: MPTCP_BULK_TUNING=1 adds servers, MPTCP_BULK_TUNING=0 turns it off). The cause it works around (docs/mptcp-slow-reader-stall.md, with tracepoints): on Linux
 * 6.18 a receiving subflow acknowledges data at TCP level while the MPTCP socket is owned by its
 * reader, with the DATA_ACK of before that data; once the reader has caught up, nothing sends the
 * newer DATA_ACK. A sender that has stopped — its send buffer full, or the peer's MPTCP window used
 * up — gets no more DATA_ACK and waits for the MPTCP retransmission timer (~200 ms). A sender that
 * never stops never waits: the ACKs of new data carry the current DATA_ACK. So:
 *
 * - receive: SO_RCVBUF is raised to `rcvbuf` (SO_RCVBUFFORCE when the process may, else SO_RCVBUF
 *   within net.core.rmem_max, never lowered) once a socket has read `rcvThreshold` bytes
 *   and, for the sockets the library creates, before the handshake (presetBulkReceiveBuffer;
 *   MPTCP_BULK_PRESET=0 leaves that out): a Node reader is slow enough that the kernel's autotuning keeps the MPTCP window at
 *   ~1 MB, which the sender fills every millisecond;
 * - send: when libuv's write queue for the socket has not shrunk for `stallMs` (the kernel takes
 *   nothing), SO_SNDBUF is doubled (same rule), up to `maxSndbuf`: the kernel wakes the writer
 *   (sk_write_space), new data leaves, and its ACKs carry the DATA_ACK that frees the rest.
 *
 * Both are limits, not allocations. Request/response traffic pays one comparison per read chunk
 * (until the threshold) and one property read per write; a timer runs only while the kernel
 * refuses bytes.
 */
export const DEFAULT_STALL_MS = 4;
export const DEFAULT_MAX_SNDBUF = 64 << 20;
export const DEFAULT_BULK_RCVBUF = 64 << 20;
export const DEFAULT_RCV_THRESHOLD = 1 << 20;

export interface BulkTuningOptions {
  /** Send: grow the send buffer after this many ms without progress (default 4; backs off to 64). */
  stallMs?: number;
  /** Send: the largest send buffer, in bytes as getsockopt(SO_SNDBUF) reports (default 64 MiB; 0: off). */
  maxSndbuf?: number;
  /** Receive: the receive buffer for a bulk reader, as getsockopt(SO_RCVBUF) reports (default 64 MiB; 0: off). */
  rcvbuf?: number;
  /** Receive: bytes read before the socket counts as bulk (default 1 MiB). */
  rcvThreshold?: number;
}

interface TuningState {
  kicks: number;
  sndbuf: number;
  rcvbuf: number;
}
const tuned = new WeakMap<net.Socket, TuningState>();

/** Whether bulk tuning stays off for all the library's sockets: MPTCP_BULK_TUNING=0. */
export function bulkTuningDisabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env['MPTCP_BULK_TUNING'] === '0';
}

/**
 * Whether bulk tuning applies to the library's `role` sockets. Clients (connect(), fetch, agents):
 * on unless MPTCP_BULK_TUNING=0. Servers (listeners and the connections they accept): only with
 * MPTCP_BULK_TUNING=1 (or `all`), because tuning there lets every client of the server fill a
 * locked 64 MiB receive buffer (ten times the kernel's autotuning limit, tcp_rmem[2]), a memory
 * exposure a server must choose, and because it cost HTTP keep-alive servers throughput
 * (`bench --only http`). A server that receives bulk uploads opts in.
 */
export function bulkTuningFor(role: 'client' | 'server', env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env['MPTCP_BULK_TUNING'];
  if (v === '0') return false;
  if (v === '1' || v === 'all') return true;
  return role === 'client';
}

/**
 * Whether the send half of bulk tuning (send-buffer growth while the kernel takes nothing) applies
 * to the library's `role` sockets: for clients as bulkTuningFor(); for servers also by default
 * (MPTCP_BULK_TUNING=0 turns it off). Unlike the receive preset it adds no memory exposure: it
 * only moves bytes the application has already written from libuv's queue into the kernel, and
 * only while a transfer is stalled. Without it a server sending bulk over MPTCP stalls as a C
 * sender does (docs/mptcp-slow-reader-stall.md; `bench --only loopback`, download).
 */
export function sendTuningFor(role: 'client' | 'server', env: NodeJS.ProcessEnv = process.env): boolean {
  return role === 'client' ? bulkTuningFor('client', env) : env['MPTCP_BULK_TUNING'] !== '0';
}

interface QueueHandle {
  writeQueueSize?: number;
}

/**
 * Raises SOL_SOCKET `name` (SO_SNDBUF / SO_RCVBUF; `force` the *FORCE variant) on `fd` to `want`
 * bytes as getsockopt reports them, never lowering it. Returns the value in effect afterwards.
 */
function raiseBuffer(fd: number, name: string, force: string, want: number, state: { forceDenied: boolean }): number {
  const native = binding();
  const SOL_SOCKET = sysconst('SOL_SOCKET');
  const opt = sysconst(name);
  const cur = native.getsockoptInt(fd, SOL_SOCKET, opt);
  if (typeof cur === 'number') return 0;
  if (want <= cur.value) return cur.value;
  // The kernel doubles the value it is given (socket(7)); without CAP_NET_ADMIN it is capped by
  // net.core.{w,r}mem_max, so only keep a plain setting that really raised the buffer.
  if (state.forceDenied || native.setsockoptInt(fd, SOL_SOCKET, sysconst(force), want >> 1) < 0) {
    state.forceDenied = true;
    let max = NaN;
    try {
      max = Number(readFileSync(`/proc/sys/net/core/${name === 'SO_SNDBUF' ? 'w' : 'r'}mem_max`, 'utf8')) * 2;
    } catch {
      // no /proc: leave the buffer as it is
    }
    if (Number.isFinite(max) && max > cur.value) native.setsockoptInt(fd, SOL_SOCKET, opt, Math.min(want, max) >> 1);
  }
  const now = native.getsockoptInt(fd, SOL_SOCKET, opt);
  return typeof now === 'number' ? 0 : now.value;
}

/**
 * The receive buffer bulk tuning wants, in bytes as getsockopt(SO_RCVBUF) reports:
 * MPTCP_BULK_RCVBUF=<bytes> (0: leave the kernel's autotuning alone), else 64 MiB.
 */
export function bulkReceiveBuffer(env: NodeJS.ProcessEnv = process.env): number {
  const v = env['MPTCP_BULK_RCVBUF'];
  const n = v === undefined || v === '' ? NaN : Number(v);
  return Number.isFinite(n) && n >= 0 ? n : DEFAULT_BULK_RCVBUF;
}

/**
 * Whether the receive buffer is preset before the handshake: on by default, MPTCP_BULK_PRESET=0
 * turns it off (the buffer is then raised only once a socket has read `rcvThreshold` bytes, and
 * request/response connections keep the kernel's autotuning). Measured side by side (veth, 3 reps):
 * without the preset the worst Node MPTCP / Node TCP fell from 0.86–1.14 to 0.20–0.24 (2 stalls per
 * transfer), a smaller preset (4 or 16 MiB) to 0.03–0.07; with it HTTP keep-alive over MPTCP ran at
 * ~0.5–0.7x TCP (`bench --only http`). No rule keeping both was found yet.
 */
export function bulkPresetEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env['MPTCP_BULK_PRESET'] !== '0';
}

/**
 * Raises the receive buffer of a new MPTCP socket `fd` (a listener: its connections inherit it; a
 * client: before connect()) to bulkReceiveBuffer(), before the handshake: the window the peer may
 * fill then grows from the first round trip, and a sender never stops at the small early window
 * (where the first stall of every transfer happened). A limit, not an allocation; never lowered;
 * a no-op for TCP. Returns the buffer in effect (0 if untouched).
 */
export function presetBulkReceiveBuffer(fd: number): number {
  const want = bulkReceiveBuffer();
  if (!bulkPresetEnabled()) return 0;
  if (want <= 0 || !isMptcpFd(fd)) return 0;
  return raiseBuffer(fd, 'SO_RCVBUF', 'SO_RCVBUFFORCE', want, { forceDenied: false });
}

/**
 * The send buffer bulk tuning presets before the handshake, in bytes as getsockopt(SO_SNDBUF)
 * reports: MPTCP_BULK_SNDBUF=<bytes> (0: no preset; the buffer still grows on a stall), else
 * DEFAULT_MAX_SNDBUF (64 MiB).
 */
export function bulkSendBuffer(env: NodeJS.ProcessEnv = process.env): number {
  const v = env['MPTCP_BULK_SNDBUF'];
  const n = v === undefined || v === '' ? NaN : Number(v);
  return Number.isFinite(n) && n >= 0 ? n : DEFAULT_MAX_SNDBUF;
}

/**
 * Raises the send buffer of a new MPTCP socket `fd` (a listener: its connections inherit it; a
 * client: before connect()) to bulkSendBuffer(), before the handshake (MPTCP_BULK_PRESET=0 leaves
 * it out, as the receive preset). Measured with docs/repro/mptcp-loopback-bench.c (C, no Node;
 * docs/mptcp-loopback.md): on loopback an MPTCP sender with the kernel's send-buffer autotuning
 * stalls several times per GiB and burns 1.5-1.8x TCP's CPU per byte; with the send buffer set
 * before the handshake it stalls rarely and costs what TCP costs. Growing the buffer only once a
 * write has waited 4 ms (useMptcpBulkTuning) comes too late for that. A limit, not an allocation:
 * the kernel holds only bytes the application wrote and the peer has not yet acknowledged; never
 * lowered; a no-op for TCP. Returns the buffer in effect (0 if untouched).
 */
export function presetBulkSendBuffer(fd: number): number {
  const want = bulkSendBuffer();
  if (!bulkPresetEnabled()) return 0;
  if (want <= 0 || !isMptcpFd(fd)) return 0;
  return raiseBuffer(fd, 'SO_SNDBUF', 'SO_SNDBUFFORCE', want, { forceDenied: false });
}

/**
 * Arms bulk tuning (see above) on a connected MPTCP `socket`. A no-op returning false for TCP, for
 * sockets without an fd and for sockets already tuned.
 */
export function useMptcpBulkTuning(socket: net.Socket, options: BulkTuningOptions = {}): boolean {
  if (tuned.has(socket)) return false;
  const fd = tryFdOf(socket);
  if (fd === undefined || socket.connecting || socket.destroyed) return false;
  if (!isMptcpFd(fd)) return false;
  const stallMs = options.stallMs ?? DEFAULT_STALL_MS;
  const maxSndbuf = options.maxSndbuf ?? DEFAULT_MAX_SNDBUF;
  const rcvbuf = options.rcvbuf ?? bulkReceiveBuffer();
  const rcvThreshold = options.rcvThreshold ?? DEFAULT_RCV_THRESHOLD;
  const state: TuningState = { kicks: 0, sndbuf: 0, rcvbuf: 0 };
  const perm = { forceDenied: false };
  tuned.set(socket, state);

  if (rcvbuf > 0) {
    // Readable.push is what node:net calls for every chunk it reads; an own property shadows it
    // until the socket has read enough to count as bulk, then points at the prototype's push again.
    // Not `delete`: deleting a property turns the socket into a dictionary-mode object, and every
    // property access node:net and the streams make on it afterwards is a slow lookup (HTTP
    // keep-alive clients read past the threshold after a few thousand responses).
    const self = socket as unknown as { push: (chunk: unknown, encoding?: BufferEncoding) => boolean };
    self.push = function (this: net.Socket, chunk: unknown, encoding?: BufferEncoding): boolean {
      if (socket.bytesRead >= rcvThreshold) {
        self.push = net.Socket.prototype.push;
        if (!socket.destroyed) state.rcvbuf = raiseBuffer(fd, 'SO_RCVBUF', 'SO_RCVBUFFORCE', rcvbuf, perm);
      }
      return net.Socket.prototype.push.call(this, chunk, encoding);
    };
  }

  if (maxSndbuf > 0) {
    let timer: NodeJS.Timeout | undefined;
    let last = 0;
    let delay = stallMs;
    const queued = (): number => (socket as unknown as { _handle?: QueueHandle | null })._handle?.writeQueueSize ?? 0;
    const check = (): void => {
      timer = undefined;
      if (socket.destroyed) return;
      const q = queued();
      if (q === 0) {
        delay = stallMs;
        return;
      }
      if (q >= last) {
        // Nothing has left libuv's queue since the last look: the kernel takes nothing.
        state.kicks += 1;
        state.sndbuf = raiseBuffer(fd, 'SO_SNDBUF', 'SO_SNDBUFFORCE', maxSndbuf, perm);
        delay = Math.min(delay * 2, Math.max(64, stallMs));
      } else {
        delay = stallMs;
      }
      last = q;
      timer = setTimeout(check, delay);
      timer.unref();
    };
    const arm = (): void => {
      if (timer || socket.destroyed) return;
      const q = queued();
      if (q === 0) return;
      last = q;
      timer = setTimeout(check, delay);
      timer.unref();
    };
    const writable = socket as unknown as {
      _write: (chunk: unknown, encoding: BufferEncoding, cb: WriteCallback) => void;
      _writev: (chunks: Array<{ chunk: unknown; encoding: BufferEncoding }>, cb: WriteCallback) => void;
    };
    const write = writable._write;
    const writev = writable._writev;
    writable._write = function (this: net.Socket, chunk, encoding, cb) {
      write.call(this, chunk, encoding, cb);
      arm();
    };
    writable._writev = function (this: net.Socket, chunks, cb) {
      writev.call(this, chunks, cb);
      arm();
    };
    socket.once('close', () => {
      if (timer) clearTimeout(timer);
      timer = undefined;
    });
  }
  return true;
}

/**
 * What bulk tuning did on `socket`: how often the send side kicked, and the buffers it set (0: not
 * touched). Undefined for a socket without it.
 */
export function bulkTuningStats(socket: net.Socket): { kicks: number; sndbuf: number; rcvbuf: number } | undefined {
  const s = tuned.get(socket);
  return s && { ...s };
}
