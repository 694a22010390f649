/** Bulk data over a stream: a source that writes as fast as the socket takes it, and a counting sink. */
import { createHash, randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';

const CHUNK = 1 << 20;

export interface SourceOptions {
  /** Stop after this many bytes (default: unbounded). */
  bytes?: number;
  /** Stop after this many seconds (default: unbounded). */
  seconds?: number;
  /** Hash what is sent (sha256). */
  hash?: boolean;
}

export interface SourceResult {
  bytes: number;
  seconds: number;
  sha256?: string;
}

/** Write pseudo-random data (a fresh 1 MiB block every 64 MiB, so compression or dedup cannot help). */
export function source(sock: Socket, o: SourceOptions): Promise<SourceResult> {
  const limit = o.bytes ?? Number.POSITIVE_INFINITY;
  const deadline = o.seconds === undefined ? Number.POSITIVE_INFINITY : performance.now() + o.seconds * 1000;
  const h = o.hash ? createHash('sha256') : null;
  let block = randomBytes(CHUNK);
  let sent = 0;
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    sock.once('error', reject);
    const pump = (): void => {
      while (sent < limit && performance.now() < deadline) {
        if (sent % (64 * CHUNK) === 0 && sent > 0) block = randomBytes(CHUNK);
        const n = Math.min(CHUNK, limit - sent);
        const piece = n === CHUNK ? block : block.subarray(0, n);
        h?.update(piece);
        sent += n;
        if (!sock.write(piece)) {
          sock.once('drain', pump);
          return;
        }
      }
      sock.end(() => {
        const r: SourceResult = { bytes: sent, seconds: (performance.now() - t0) / 1000 };
        if (h) r.sha256 = h.digest('hex');
        resolve(r);
      });
    };
    pump();
  });
}

export interface SinkOptions {
  hash?: boolean;
  /** Record cumulative bytes every `sampleMs` (0 = no timeline). */
  sampleMs?: number;
}

export interface SinkResult {
  bytes: number;
  /** First byte to EOF. */
  seconds: number;
  sha256?: string;
  /** [seconds since first byte, cumulative bytes]. */
  timeline: Array<[number, number]>;
  /** Gaps of more than 100 ms between two chunks (the MPTCP retransmission-timer stalls). */
  stalls: number;
  /** The longest gap between two chunks, ms. */
  maxGapMs: number;
}

/** Count (and optionally hash) everything until EOF. */
export function sink(sock: Socket, o: SinkOptions = {}): Promise<SinkResult> {
  const h = o.hash ? createHash('sha256') : null;
  let bytes = 0;
  let t0 = 0;
  let last = 0;
  let stalls = 0;
  let maxGap = 0;
  const timeline: Array<[number, number]> = [];
  let timer: NodeJS.Timeout | undefined;
  return new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.on('data', (chunk: Buffer) => {
      if (t0 === 0) {
        t0 = performance.now();
        if (o.sampleMs) {
          timeline.push([0, 0]);
          timer = setInterval(() => timeline.push([(performance.now() - t0) / 1000, bytes]), o.sampleMs);
        }
      }
      const now = performance.now();
      const gap = last === 0 ? 0 : now - last;
      if (gap > 100) stalls++;
      if (gap > maxGap) maxGap = gap;
      last = now;
      bytes += chunk.length;
      h?.update(chunk);
    });
    sock.once('end', () => {
      if (timer) clearInterval(timer);
      const seconds = t0 === 0 ? 0 : (performance.now() - t0) / 1000;
      if (o.sampleMs) timeline.push([seconds, bytes]);
      const r: SinkResult = { bytes, seconds, timeline, stalls, maxGapMs: Math.round(maxGap * 10) / 10 };
      if (h) r.sha256 = h.digest('hex');
      sock.end();
      resolve(r);
    });
  });
}
