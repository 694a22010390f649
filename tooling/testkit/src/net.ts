/** Ports for tests: a free one, and waiting until something listens. */
import { readFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';

/** Ports this process has handed out (a test binds them later: never the same one twice). */
const handedOut = new Set<number>();

/**
 * The ports below the kernel's ephemeral range (net.ipv4.ip_local_port_range, 32768–60999 by
 * default): a port picked from the ephemeral range, released and bound again later can meanwhile be
 * taken as the source port of any outgoing connection on the machine (seen: a test's second socket
 * failing EADDRINUSE while other suites ran); below it, only another listener can take it.
 */
function pickRange(): [number, number] {
  let low = 32768;
  try {
    low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'latin1').trim().split(/\s+/)[0]) || low;
  } catch {
    // not Linux, or no /proc: the default range
  }
  const top = Math.max(2048, low - 1);
  return [Math.max(1024, top - 12_000), top];
}

/**
 * A free TCP port on `host` (bound and released; fine for tests that then bind it themselves), below
 * the ephemeral range, never one this process handed out before.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const [lo, hi] = pickRange();
  for (let tries = 0; tries < 200; tries++) {
    const port = lo + Math.floor(Math.random() * (hi - lo + 1));
    if (handedOut.has(port)) continue;
    const srv = createServer();
    const ok = await new Promise<boolean>((resolve) => {
      srv.once('error', () => resolve(false));
      srv.listen({ port, host, exclusive: true }, () => resolve(true));
    });
    if (!ok) continue;
    await new Promise<void>((r) => srv.close(() => r()));
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port in ${lo}-${hi} on ${host}`);
}

/** Resolves when something accepts on host:port (tries every 20 ms; `timeoutMs` is a safety net). */
export async function waitListening(host: string, port: number, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = createConnection({ host, port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() - t0 > timeoutMs) throw new Error(`nothing listening on ${host}:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * One echo round trip over plain TCP (an MPTCP listener accepts it too): sends `text` without
 * half-closing, ends the connection once as many characters came back, resolves with them at close.
 */
export function echoRoundTrip(port: number, text: string, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = createConnection({ host, port }, () => c.write(text));
    let got = '';
    c.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.length >= text.length) c.end();
    });
    c.on('close', () => resolve(got));
    c.on('error', reject);
  });
}
