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
 * an idle connection holds none. Small reads are copied into a buffer of their own size (as Node's
 * own read path copies a partial 64 KiB block), large ones into a shared output slab.
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
/** The output slab for large reads holds this many full reads. */
export const SLAB_READS = 4;

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
  /** Output slabs this socket's large reads started (each SLAB_READS × readBuffer, shared by all sockets). */
  slabs: number;
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

let outSlab: Buffer | undefined;
let outAt = 0;

/** `n` bytes of the process-wide output slab, never handed out twice; a new slab when it is full. */
function outputSlab(n: number, readSize: number): { chunk: Buffer; fresh: boolean } {
  let fresh = false;
  if (!outSlab || outSlab.length - outAt < n) {
    outSlab = Buffer.allocUnsafeSlow(Math.max(readSize * SLAB_READS, n));
    outAt = 0;
    fresh = true;
  }
  const chunk = outSlab.subarray(outAt, outAt + n);
  outAt += n;
  return { chunk, fresh };
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
  const s: ReadPathStats = { reads: 0, bytes: 0, maxRead: 0, readBuffer: size, slabs: 0 };
  // Every read lands in the one process-wide buffer (so a connection holds no read memory of its
  // own, busy or idle) and is copied out before the next read can happen. A small read is copied
  // into a buffer of its own size, as Node's read path copies a partial 64 KiB block; a large one
  // into the process-wide output slab (SLAB_READS reads long, a fresh one when full, like Node's
  // Buffer pool at a larger scale): one allocation per slab instead of one per read — a fresh
  // 1 MiB allocation per read cost more than the larger reads saved.
  const callback: BufferCallback = (nread, buf) => {
    s.reads += 1;
    s.bytes += nread;
    if (nread > s.maxRead) s.maxRead = nread;
    let chunk: Buffer;
    if (nread < MIN_READ_BUFFER) {
      chunk = Buffer.allocUnsafe(nread);
    } else {
      const out = outputSlab(nread, size);
      if (out.fresh) s.slabs += 1;
      chunk = out.chunk;
    }
    buf.copy(chunk, 0, 0, nread);
    // false: net stops reading until the stream's consumer asks for more (_read → readStart).
    return socket.push(chunk);
  };
  slots[sym.buffer] = common;
  slots[sym.callback] = callback;
  slots[sym.gen] = null;
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
