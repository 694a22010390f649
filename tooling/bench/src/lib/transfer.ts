/** A bulk transfer between two worker processes (optionally each inside a namespace). */
import { start } from './proc.js';
import { worker } from './paths.js';
import type { Transport } from './sockets.js';
import type { SinkResult, SourceResult } from './stream.js';

export interface TransferSpec {
  transport: Transport;
  /** Address the server binds (and the client dials, unless `dial` is given). */
  host: string;
  dial?: string;
  port: number;
  /** Which end sinks: 'server' = upload (client sends), 'client' = download. */
  sinkAt: 'server' | 'client';
  bytes?: number;
  seconds?: number;
  sampleMs?: number;
  hash?: boolean;
  /** TCP_CONGESTION for both ends' sockets (default: the namespace's net.ipv4.tcp_congestion_control). */
  cc?: string;
  /** argv prefixes, e.g. ['ip','netns','exec','lab-srv']. */
  serverPrefix?: string[];
  clientPrefix?: string[];
}

export interface TransferResult {
  /** maxSubflows: the most subflows the sink saw during the transfer (MPTCP; 0 for TCP). */
  sink: SinkResult & {
    mptcp: boolean | null;
    maxSubflows?: number;
    /** @mptcp/native's read path at the sink (null: not taken, e.g. TCP or MPTCP_READ_PATH=0). */
    readPath?: { reads: number; bytes: number; maxRead: number } | null;
    /** CPU seconds of the sink process (user + system, all threads) during the transfer. */
    cpuSeconds?: number;
  };
  source: SourceResult & { mptcp: boolean | null; cpuSeconds?: number };
}

function argv(spec: TransferSpec, mode: 'serve' | 'connect'): string[] {
  const role = (mode === 'serve') === (spec.sinkAt === 'server') ? 'sink' : 'source';
  const a = [
    worker('bulk'),
    mode,
    '--transport',
    spec.transport,
    '--host',
    mode === 'serve' ? spec.host : (spec.dial ?? spec.host),
  ];
  a.push('--port', String(spec.port), '--role', role);
  if (spec.bytes !== undefined) a.push('--bytes', String(spec.bytes));
  if (spec.seconds !== undefined) a.push('--seconds', String(spec.seconds));
  if (spec.sampleMs) a.push('--sample-ms', String(spec.sampleMs));
  if (spec.hash) a.push('--hash');
  if (spec.cc) a.push('--cc', spec.cc);
  return a;
}

function launch(prefix: string[] | undefined, args: string[]): ReturnType<typeof start> {
  const full = [...(prefix ?? []), process.execPath, ...args];
  return start(full[0]!, full.slice(1));
}

function lastJson<T>(lines: string[], who: string): T {
  const l = [...lines].reverse().find((x) => x.startsWith('{'));
  if (!l) throw new Error(`${who}: no result line`);
  return JSON.parse(l) as T;
}

export async function transfer(spec: TransferSpec, timeoutMs = 120_000): Promise<TransferResult> {
  const server = launch(spec.serverPrefix, argv(spec, 'serve'));
  try {
    await server.waitFor(/^LISTENING/, 10_000);
    const client = launch(spec.clientPrefix, argv(spec, 'connect'));
    const timer = setTimeout(() => {
      void client.stop('SIGKILL');
      void server.stop('SIGKILL');
    }, timeoutMs);
    const [cc, sc] = await Promise.all([client.exited, server.exited]);
    clearTimeout(timer);
    if (cc !== 0 || sc !== 0) {
      throw new Error(
        `transfer failed (client ${cc}, server ${sc}): ${[...client.stderr, ...server.stderr].slice(-6).join(' | ')}`,
      );
    }
    const s = lastJson<Record<string, unknown>>(server.stdout, 'server');
    const c = lastJson<Record<string, unknown>>(client.stdout, 'client');
    const [sinkRaw, sourceRaw] = spec.sinkAt === 'server' ? [s, c] : [c, s];
    return {
      sink: sinkRaw as unknown as TransferResult['sink'],
      source: sourceRaw as unknown as TransferResult['source'],
    };
  } finally {
    await server.stop('SIGKILL');
  }
}
