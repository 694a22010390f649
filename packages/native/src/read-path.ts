/**
 * The read path for MPTCP sockets: larger reads. node:net reads a stream socket 64 KiB per
 * recvmsg() (libuv's suggested size). For TCP that is cheap; an MPTCP recvmsg() costs much more
 * per call (the msk lock, moving skbs from the subflows, the DATA_ACK/window bookkeeping), so an
 * MPTCP receiver spends its time in the kernel per call, not per byte: the kernel alone (Python,
 * loopback) runs MPTCP at 0.42× TCP with 64 KiB reads and at 0.92× with 1 MiB reads.
 *
 * This module gives an MPTCP socket's libuv handle one large read buffer (net's own `onread`
 * mechanism, `handle.useUserBuffer()`), so each recvmsg() takes up to `readBuffer` bytes (default
 * 1 MiB), and re-emits what was read into the socket's normal Readable side: 'data', pipe(),
 * setEncoding(), pause()/resume(), 'end' and errors behave as on any net.Socket. The buffer is one
 * per process (every read is copied out before the next one can happen: libuv runs the read and
 * its JS callback on the one loop thread), so the memory cost does not grow with connections and
 * an idle connection holds none. Reads are copied into a buffer of their own size (as Node's own
 * read path copies a partial 64 KiB block), except during a bulk transfer: after a read that
 * filled its buffer, reads go into a fresh buffer that is pushed as it is (no copy), until a read
 * does not fill it.
 *
 * On by default for the MPTCP sockets @mptcp/native creates or accepts; `MPTCP_READ_PATH=0`
 * turns it off, `MPTCP_READ_PATH=<bytes>` sets the buffer size (read when connect() or listen()
 * is called). Connections whose reads Node
 * hands to a C++ consumer keep that consumer: an http server's parser and an http2 session consume
 * the handle on top of this path (the connection listener runs first), a TLS socket wrapped around
 * a client before it connected is left alone (its TLSWrap reads the ciphertext).
 */
import type * as net from 'node:net';
import { Duplex } from 'node:stream';
import { IPPROTO_MPTCP } from '@mptcp/constants';
import { binding, sysconst } from './binding.js';
import { tryFdOf } from './fd.js';

export const DEFAULT_READ_BUFFER = 1 << 20;
/** Below this a larger buffer is not worth a copy: the setting is ignored. */
export const MIN_READ_BUFFER = 64 << 10;

export interface ReadPathOptions {
  /** Bytes one read may take (default: MPTCP_READ_PATH=<bytes>, else 1 MiB). */
  readBuffer?: number;
}

/** What the read path did on a socket (for benchmarks and tests). */
export interface ReadPathStats {
  /** Reads that returned data. */
  reads: number;
  /** Bytes they returned. */
  bytes: number;
  /** The largest single read. */
  maxRead: number;
  /** The buffer each read may fill. */
  readBuffer: number;
  /** Buffers of its own (readBuffer bytes each) this socket read into after a read that filled its buffer. */
  slabs: number;
  /** Reads pushed without a copy (into such a buffer). */
  direct: number;
}

interface UserBufferHandle {
  useUserBuffer?: (buf: Uint8Array) => void;
  _consumed?: boolean;
  fd?: number;
}

type BufferCallback = (nread: number, buf: Buffer) => boolean;

const stats = new WeakMap<net.Socket, ReadPathStats>();
const shared = new Map<number, Buffer>();

/**
 * Whether the read path stays off for the sockets the library creates: MPTCP_READ_PATH=0 (or
 * `off`). On otherwise.
 */
export function readPathDisabled(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env['MPTCP_READ_PATH'];
  return v === '0' || v === 'off' || v === 'false';
}

/** The read buffer size: MPTCP_READ_PATH=<bytes> (≥ 64 KiB), else 1 MiB. */
export function readPathBufferSize(env: NodeJS.ProcessEnv = process.env): number {
  const v = env['MPTCP_READ_PATH'];
  const n = v === undefined || v === '' ? NaN : Number(v);
  return Number.isInteger(n) && n >= MIN_READ_BUFFER ? n : DEFAULT_READ_BUFFER;
}

/** net.Socket's private `onread` slots (lib/net.js kBuffer, kBufferCb, kBufferGen), by description. */
interface OnreadSymbols {
  buffer: symbol;
  callback: symbol;
  gen: symbol;
}
let symbolsCache: OnreadSymbols | null | undefined;

function onreadSymbols(socket: net.Socket): OnreadSymbols | null {
  if (symbolsCache !== undefined) return symbolsCache;
  const own = Object.getOwnPropertySymbols(socket);
  const find = (name: string): symbol | undefined => own.find((s) => s.description === name);
  const buffer = find('kBuffer');
  const callback = find('kBufferCb');
  const gen = find('kBufferGen');
  symbolsCache = buffer && callback && gen ? { buffer, callback, gen } : null;
  return symbolsCache;
}

function sharedBuffer(size: number): Buffer {
  let b = shared.get(size);
  if (!b) {
    // Never freed: libuv keeps a raw pointer to it for every socket that uses it.
    b = Buffer.allocUnsafeSlow(size);
    shared.set(size, b);
  }
  return b;
}

function isMptcpFd(fd: number): boolean {
  const r = binding().getsockoptInt(fd, sysconst('SOL_SOCKET'), sysconst('SO_PROTOCOL'));
  return typeof r !== 'number' && r.value === IPPROTO_MPTCP;
}

/**
 * Gives a connected MPTCP `socket` the large-read path (see the module comment). A no-op returning
 * false for TCP, for sockets without an fd or libuv handle, for sockets that already have an
 * `onread` buffer or whose handle a C++ consumer reads (an http server's parser), and when this
 * Node's net.Socket has no `onread` slots.
 */
export function useMptcpReadPath(socket: net.Socket, options: ReadPathOptions = {}): boolean {
  if (stats.has(socket) || socket.destroyed) return false;
  const handle = (socket as unknown as { _handle?: UserBufferHandle | null })._handle;
  if (!handle || typeof handle.useUserBuffer !== 'function' || handle._consumed) return false;
  // A TLS socket built on this one reads the handle itself (its TLSWrap listens on the stream; on a
  // client it is often wrapped before 'connect'); net marks that by making `reading` an accessor.
  if (Object.getOwnPropertyDescriptor(handle, 'reading')?.get) return false;
  const fd = tryFdOf(socket);
  if (fd === undefined || !isMptcpFd(fd)) return false;
  const sym = onreadSymbols(socket);
  if (!sym) return false;
  const slots = socket as unknown as Record<symbol, unknown>;
  if (slots[sym.buffer]) return false;
  const size = Math.max(MIN_READ_BUFFER, Math.floor(options.readBuffer ?? readPathBufferSize()));
  const common = sharedBuffer(size);
  const s: ReadPathStats = { reads: 0, bytes: 0, maxRead: 0, readBuffer: size, slabs: 0, direct: 0 };
  // Where reads land. Normally the one process-wide buffer (so a connection holds no read memory of
  // its own, busy or idle), copied out before the next read can happen into a buffer of the read's
  // size, as Node's read path copies a partial 64 KiB block. A read that filled the whole buffer
  // says more is queued (a bulk transfer): the next read then goes into a fresh buffer of its own
  // that is pushed without a copy, and so on while reads fill their buffer; the first read that
  // does not returns to the shared buffer, so an idle connection pins no read memory. Copying bulk
  // reads out (into a process-wide output slab, before) cost a third of a bulk receiver's CPU: the
  // copy writes every byte a second time, into memory no cache has seen. A chunk pushed without a
  // copy fills at least half its buffer (a shorter read is copied out), so a consumer that keeps
  // chunks keeps at most twice their size.
  let direct = false;
  let next: Buffer | undefined;
  const callback: BufferCallback = (nread, buf) => {
    s.reads += 1;
    s.bytes += nread;
    if (nread > s.maxRead) s.maxRead = nread;
    let chunk: Buffer;
    if (direct && nread >= buf.length >> 1) {
      chunk = nread === buf.length ? buf : buf.subarray(0, nread);
      s.direct += 1;
    } else {
      chunk = nread < MIN_READ_BUFFER ? Buffer.allocUnsafe(nread) : Buffer.allocUnsafeSlow(nread);
      buf.copy(chunk, 0, 0, nread);
    }
    if (nread === buf.length) {
      next = Buffer.allocUnsafeSlow(size);
      s.slabs += 1;
      direct = true;
    } else if (direct) {
      next = common;
      direct = false;
    }
    // false: net stops reading until the stream's consumer asks for more (_read → readStart).
    return socket.push(chunk);
  };
  // net asks for the next read's buffer after each read (kBufferGen); undefined keeps the current one.
  const generate = (): Buffer | undefined => {
    const b = next;
    next = undefined;
    return b;
  };
  slots[sym.buffer] = common;
  slots[sym.callback] = callback;
  slots[sym.gen] = generate;
  handle.useUserBuffer(common);
  // net's pause() stops the handle at once for a socket with an onread buffer (lib/net.js), so a
  // paused socket would never see its peer's FIN or RST (TCP and MPTCP_READ_PATH=0 do: they read
  // until the buffer is full). Duplex's pause() only stops 'data'; push() === false above still
  // stops reading once the buffer is full.
  socket.pause = pauseKeepReading;
  stats.set(socket, s);
  return true;
}

function pauseKeepReading(this: net.Socket): net.Socket {
  return Duplex.prototype.pause.call(this) as net.Socket;
}

/** What the read path did on `socket`; undefined for a socket without it. */
export function readPathStats(socket: net.Socket): ReadPathStats | undefined {
  const s = stats.get(socket);
  return s && { ...s };
}
