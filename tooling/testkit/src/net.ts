/** Ports for tests: a free one, and waiting until something listens. */
import { createConnection, createServer } from 'node:net';

/** A free TCP port on `host` (bound and released; fine for tests that then bind it themselves). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, host, r));
  const addr = srv.address();
  await new Promise<void>((r) => srv.close(() => r()));
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  return addr.port;
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
