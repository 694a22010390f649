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
 * its JS callback on the one loop thread), so the memory cost does not grow with connections.
 * Each read is copied into a buffer of its own size, as Node's own read path copies its 64 KiB
 * block down to the bytes read.
 *
 * On by default for the MPTCP sockets @mptcp/native creates or accepts; `MPTCP_READ_PATH=0`
 * turns it off, `MPTCP_READ_PATH=<bytes>` sets the buffer size. Connections whose reads Node
 * hands to a C++ consumer keep that consumer: an http server's parser and an http2 session consume
 * the handle on top of this path (the connection listener runs first), a TLS socket wrapped around
 * a client before it connected is left alone (its TLSWrap reads the ciphertext).
 */
import type * as net from 'node:net';
import { IPPROTO_MPTCP } from '@mptcp/constants';
import { binding, sysconst } from './binding.js';
import { tryFdOf } from './fd.js';

export const DEFAULT_READ_BUFFER = 1 << 20;
/** Below this a larger buffer is not worth a copy: the setting is ignored. */
export const MIN_READ_BUFFER = 64 << 10;
/** A bulk-reading socket's slab holds this many full reads. */
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
  /** Slabs allocated for bulk reads (each SLAB_READS × readBuffer bytes). */
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
  // Two modes. Small reads land in the process-wide buffer and are copied out (as Node's own
  // read path copies a partial 64 KiB block). Once a read is larger than Node's 64 KiB, the
  // socket reads straight into a slab of its own, SLAB_READS × size, and pushes views of it (no
  // copy, one allocation per slab); a small read sends it back to the shared buffer, so an idle
  // socket holds no slab.
  let slab: Buffer | undefined;
  let at = 0;
  const callback: BufferCallback = (nread, buf) => {
    s.reads += 1;
    s.bytes += nread;
    if (nread > s.maxRead) s.maxRead = nread;
    let chunk: Buffer;
    if (buf === common) {
      chunk = Buffer.allocUnsafe(nread);
      buf.copy(chunk, 0, 0, nread);
    } else {
      chunk = buf.subarray(0, nread);
      at += nread;
    }
    if (nread >= MIN_READ_BUFFER) {
      if (!slab || slab.length - at < size) {
        slab = Buffer.allocUnsafeSlow(size * SLAB_READS);
        at = 0;
        s.slabs += 1;
      }
    } else {
      slab = undefined;
    }
    // false: net stops reading until the stream's consumer asks for more (_read → readStart).
    return socket.push(chunk);
  };
  // Called by net after each read: the buffer the next read fills.
  const next = (): Buffer => (slab ? slab.subarray(at, at + size) : common);
  slots[sym.buffer] = common;
  slots[sym.callback] = callback;
  slots[sym.gen] = next;
  handle.useUserBuffer(common);
  stats.set(socket, s);
  return true;
}

/** What the read path did on `socket`; undefined for a socket without it. */
export function readPathStats(socket: net.Socket): ReadPathStats | undefined {
  const s = stats.get(socket);
  return s && { ...s };
}
