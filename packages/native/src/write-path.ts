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
import type * as net from 'node:net';
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
