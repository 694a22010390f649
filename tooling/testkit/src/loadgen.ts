/**
 * Short connections as fast as a server takes them: connect, send one byte, half-close, wait for the
 * echo and the close. `concurrency` loops run side by side for `seconds`.
 */
import { Socket } from 'node:net';
import { median, quantile } from './stats.js';

export interface LoadOptions {
  host: string;
  /** Ports to spread connections over, round-robin (one port is the common case). */
  ports: number[];
  concurrency: number;
  seconds: number;
  /** Bytes the reply must carry for the connection to count as served (default 1). */
  expect?: number;
  /** Per-connection timeout, ms. */
  timeoutMs?: number;
  /** Local addresses to spread connections over (avoids ephemeral-port exhaustion on loopback). */
  localAddresses?: string[];
}

export interface LoadResult {
  served: number;
  /** Closed or reset before the reply (e.g. refused by MaxConnections). */
  dropped: number;
  /** connect() failed (ECONNREFUSED, ETIMEDOUT...). */
  failed: number;
  seconds: number;
  perSecond: number;
  latencyMs: { p50: number; p99: number };
  errors: Record<string, number>;
}

export function oneConnection(
  o: LoadOptions,
  port: number,
  localAddress?: string,
): Promise<{ ok: boolean; connected: boolean; ms: number; error?: string }> {
  const expect = o.expect ?? 1;
  return new Promise((resolve) => {
    const t0 = performance.now();
    const s = new Socket();
    let got = 0;
    let connected = false;
    let settled = false;
    const done = (ok: boolean, error?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ ok, connected, ms: performance.now() - t0, ...(error !== undefined && { error }) });
    };
    const timer = setTimeout(() => done(false, 'TIMEOUT'), o.timeoutMs ?? 10_000);
    s.on('data', (d: Buffer) => {
      got += d.length;
    });
    s.once('error', (e: NodeJS.ErrnoException) => done(false, e.code ?? e.message));
    s.once('close', () => done(got >= expect, got >= expect ? undefined : 'CLOSED'));
    s.connect({ host: o.host, port, ...(localAddress !== undefined && { localAddress }) }, () => {
      connected = true;
      s.end('x');
    });
  });
}

export async function load(o: LoadOptions): Promise<LoadResult> {
  const deadline = performance.now() + o.seconds * 1000;
  const lat: number[] = [];
  const errors: Record<string, number> = {};
  let served = 0;
  let dropped = 0;
  let failed = 0;
  let k = 0;
  const t0 = performance.now();
  const loop = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const i = k++;
      const la = o.localAddresses?.length ? o.localAddresses[i % o.localAddresses.length] : undefined;
      const r = await oneConnection(o, o.ports[i % o.ports.length]!, la);
      if (r.ok) {
        served++;
        lat.push(r.ms);
      } else {
        if (r.connected) dropped++;
        else failed++;
        const key = r.error ?? 'unknown';
        errors[key] = (errors[key] ?? 0) + 1;
        // a refused connect returns immediately; do not spin
        if (!r.connected) await new Promise((res) => setTimeout(res, 5));
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, loop));
  const seconds = (performance.now() - t0) / 1000;
  return {
    served,
    dropped,
    failed,
    seconds,
    perSecond: served / seconds,
    latencyMs: { p50: lat.length ? median(lat) : Number.NaN, p99: lat.length ? quantile(lat, 0.99) : Number.NaN },
    errors,
  };
}
