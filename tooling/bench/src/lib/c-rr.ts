/**
 * The kernel alone under small request/response traffic: docs/repro/mptcp-rr-bench.c (a C server
 * and client in two processes, one epoll loop each, N keep-alive connections with one request in
 * flight each: the pattern of autocannon -c N against node:http, without Node). The http scenario
 * runs it interleaved with the Node runs, so the report shows the kernel's own MPTCP / TCP ratio
 * for this traffic beside Node's.
 */
import { join } from 'node:path';
import { compileC } from './c-baseline.js';
import { REPO_DIR } from './paths.js';
import { run } from './proc.js';
import type { Transport } from './sockets.js';

export const RR_BENCH_SOURCE = join(REPO_DIR, 'docs', 'repro', 'mptcp-rr-bench.c');

export interface CRrResult {
  proto: Transport;
  connections: number;
  seconds: number;
  requests: number;
  rps: number;
  /** CPU microseconds (user + sys) per request of the client and of the server process. */
  client_cpu_us: number;
  server_cpu_us: number;
}

/** One C request/response run over 127.0.0.1. */
export async function cRequestResponse(spec: {
  transport: Transport;
  seconds: number;
  connections: number;
}): Promise<CRrResult> {
  const bin = compileC(RR_BENCH_SOURCE, 'mptcp-rr-bench', 'the C request/response baseline');
  const args = ['-p', spec.transport, '-s', String(spec.seconds), '-c', String(spec.connections)];
  const out = await run(bin, args, { timeoutMs: (spec.seconds + 60) * 1000 });
  const line = out
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  if (!line) throw new Error(`mptcp-rr-bench ${args.join(' ')}: no result line`);
  return JSON.parse(line) as CRrResult;
}
