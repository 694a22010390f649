/**
 * The C baseline for bulk transfers: docs/repro/mptcp-slow-reader.c (the standalone reproducer of
 * the MPTCP sender stall), compiled once per run with the system C compiler, run as server and
 * client (each optionally inside a namespace). Same path, same congestion control as the Node runs.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_DIR } from './paths.js';
import { start } from './proc.js';
import type { Transport } from './sockets.js';

export const REPRO_SOURCE = join(REPO_DIR, 'docs', 'repro', 'mptcp-slow-reader.c');

const binaries = new Map<string, string>();

/**
 * `source` compiled with the system C compiler (`-O2 -Wall`) to a temporary `name`, once per run;
 * throws naming what is missing (no C compiler) for `what`.
 */
export function compileC(source: string, name: string, what: string): string {
  const done = binaries.get(source);
  if (done && existsSync(done)) return done;
  const out = join(mkdtempSync(join(tmpdir(), 'bench-c-')), name);
  const cc = ['cc', 'gcc', 'clang'].find((c) => {
    try {
      execFileSync(c, ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  });
  if (!cc) throw new Error(`no C compiler (cc, gcc or clang) for ${what}`);
  execFileSync(cc, ['-O2', '-Wall', '-o', out, source], { stdio: ['ignore', 'ignore', 'pipe'] });
  binaries.set(source, out);
  return out;
}

/** The compiled reproducer, or throws naming what is missing (no C compiler). */
export function cBaselineBinary(): string {
  return compileC(REPRO_SOURCE, 'mptcp-slow-reader', 'the C baseline');
}

export interface CTransferSpec {
  transport: Transport;
  /** Address the client dials (the server listens on 0.0.0.0). */
  dial: string;
  port: number;
  sinkAt: 'server' | 'client';
  bytes: number;
  cc?: string;
  serverPrefix?: string[];
  clientPrefix?: string[];
}

export interface CTransferResult {
  bytes: number;
  seconds: number;
  gbit: number;
  stalls: number;
  maxGapMs: number;
}

/** One transfer; resolves with the receiver's figures. */
export async function cTransfer(spec: CTransferSpec, timeoutMs = 120_000): Promise<CTransferResult> {
  const bin = cBaselineBinary();
  const common = ['-p', spec.transport, ...(spec.cc ? ['-c', spec.cc] : [])];
  const sendArgs = ['-s', '-n', String(spec.bytes)];
  const serverArgs = ['server', String(spec.port), ...common, ...(spec.sinkAt === 'client' ? sendArgs : [])];
  const clientArgs = ['client', spec.dial, String(spec.port), ...common, ...(spec.sinkAt === 'server' ? sendArgs : [])];
  const launch = (prefix: string[] | undefined, args: string[]): ReturnType<typeof start> => {
    const full = [...(prefix ?? []), bin, ...args];
    return start(full[0]!, full.slice(1));
  };
  const server = launch(spec.serverPrefix, serverArgs);
  try {
    await server.waitFor(/^LISTENING/, 10_000);
    const client = launch(spec.clientPrefix, clientArgs);
    const timer = setTimeout(() => {
      void client.stop('SIGKILL');
      void server.stop('SIGKILL');
    }, timeoutMs);
    const [cc, sc] = await Promise.all([client.exited, server.exited]);
    clearTimeout(timer);
    if (cc !== 0 || sc !== 0)
      throw new Error(
        `C transfer failed (client ${cc}, server ${sc}): ${[...client.stderr, ...server.stderr].slice(-4).join(' | ')}`,
      );
    const lines = [...server.stdout, ...client.stdout].filter((l) => l.startsWith('{"role":"recv"'));
    if (!lines[0]) throw new Error('C transfer: no receiver result');
    return JSON.parse(lines[0]) as CTransferResult;
  } finally {
    await server.stop('SIGKILL');
  }
}
