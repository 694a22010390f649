/**
 * The kernel alone on loopback: docs/repro/mptcp-loopback-bench.c (a C sender and receiver in two
 * processes, no Node), compiled once per run with the system C compiler. The loopback scenario runs
 * it interleaved with the Node runs so a reader sees the kernel's own MPTCP / TCP ratio — the
 * ceiling a user-space library can reach — next to Node's.
 */
import { join } from 'node:path';
import { compileC } from './c-baseline.js';
import { REPO_DIR } from './paths.js';
import { run } from './proc.js';
import type { Transport } from './sockets.js';

export const LOOPBACK_BENCH_SOURCE = join(REPO_DIR, 'docs', 'repro', 'mptcp-loopback-bench.c');

/** The compiled bench, or throws naming what is missing (no C compiler). */
export function cLoopbackBinary(): string {
  return compileC(LOOPBACK_BENCH_SOURCE, 'mptcp-loopback-bench', 'the C loopback baseline');
}

export interface CLoopbackSpec {
  transport: Transport;
  /** up: the connecting side sends; down: the accepted side sends. */
  dir: 'up' | 'down';
  bytes: number;
  cc?: string;
  /**
   * SO_RCVBUFFORCE and SO_SNDBUFFORCE on both ends before the handshake, as @mptcp/native's bulk
   * presets (value as getsockopt reports it: the kernel doubles what it is given, so half is passed).
   */
  bufferPreset?: number;
}

export interface CLoopbackResult {
  gbit: number;
  seconds: number;
  /** CPU seconds per GiB (user + sys) of the sending and the receiving process. */
  send_usr: number;
  send_sys: number;
  recv_usr: number;
  recv_sys: number;
  stalls: number;
  max_gap_ms: number;
}

/** One C transfer over 127.0.0.1 with 1 MiB reads and writes (as @mptcp/native's read path). */
export async function cLoopback(spec: CLoopbackSpec): Promise<CLoopbackResult> {
  const args = ['-p', spec.transport, '-d', spec.dir, '-n', String(spec.bytes)];
  if (spec.cc) args.push('-c', spec.cc);
  if (spec.bufferPreset) {
    const half = String(spec.bufferPreset >> 1);
    args.push('-F', '-E', '-R', half, '-S', half);
  }
  const out = await run(cLoopbackBinary(), args, { timeoutMs: 120_000 });
  const line = out
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  if (!line) throw new Error(`mptcp-loopback-bench ${args.join(' ')}: no result line`);
  return JSON.parse(line) as CLoopbackResult;
}
