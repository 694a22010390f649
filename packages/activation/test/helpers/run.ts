/** Small process and file helpers for the engine tests. */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '@mptcp/testkit/net';

export const HELPERS = dirname(fileURLToPath(import.meta.url));
export const CLIENT = join(HELPERS, 'client.py');

export function run(
  file: string,
  args: readonly string[],
  timeoutMs = 20_000,
): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    execFile(file, [...args], { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err
        ? typeof (err as { code?: unknown }).code === 'number'
          ? (err as { code: number }).code
          : 1
        : 0;
      resolve({ stdout, stderr, code });
    });
  });
}

export interface OnceResult {
  local_port: number;
  local_addr: string;
  protocol: number;
  received: string;
}

/** One client connection through client.py (MPTCP unless tcp). */
export async function clientOnce(
  port: number,
  opts: { tcp?: boolean; send?: string; host?: string; keepOpen?: boolean } = {},
): Promise<OnceResult> {
  const args = [CLIENT, 'once', opts.host ?? '127.0.0.1', String(port)];
  if (opts.tcp) args.push('--tcp');
  if (opts.send) args.push('--send', opts.send);
  if (opts.keepOpen) args.push('--keep-open');
  const r = await run('python3', args);
  if (r.code !== 0) throw new Error(`client failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as OnceResult;
}

export interface SeqResult {
  answered: number;
  errors: string[];
  n_errors: number;
  seconds: number;
  median_ms: number;
}

export async function clientSeq(
  port: number,
  n: number,
  opts: { tcp?: boolean; send?: string } = {},
): Promise<SeqResult> {
  const args = [CLIENT, 'seq', '127.0.0.1', String(port), String(n)];
  if (opts.tcp) args.push('--tcp');
  if (opts.send) args.push('--send', opts.send);
  const r = await run('python3', args, 120_000);
  if (r.code !== 0) throw new Error(`client failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as SeqResult;
}

/** Writes unit files into a fresh temporary directory. */
export function unitDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'act-units-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

export function tmp(prefix = 'act-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

export async function waitFor<T>(fn: () => T | undefined | false, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A port the kernel just handed out (bind :0, close). systemd's address parser rejects port 0
 * (parse_ip_port), so unit files cannot ask for "any port"; this keeps collisions between parallel
 * runs unlikely instead.
 */
export { freePort };

/** `127.0.0.1:PORT` with a fresh port. */
export async function loopback(): Promise<string> {
  return `127.0.0.1:${await freePort()}`;
}

/** Waits until something listens on 127.0.0.1:port (from /proc/net/tcp, without connecting to it). */
export async function waitListening(port: number, timeoutMs = 10_000): Promise<void> {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const { readFileSync } = await import('node:fs');
  await waitFor(
    () =>
      readFileSync('/proc/net/tcp', 'utf8')
        .split('\n')
        .some((l) => {
          const c = l.trim().split(/\s+/);
          return c[1] === `0100007F:${hex}` && c[3] === '0A';
        }),
    timeoutMs,
    `a listener on port ${port}`,
  );
}
