/** Small clients for the reliability scenarios: one echo round trip, or a held conversation. */
import { createConnection, type NetConnectOpts, type Socket } from 'node:net';

type Target = string | { path: string };

function open(target: Target, port: number): Socket {
  const o: NetConnectOpts = typeof target === 'string' ? { host: target, port } : { path: target.path };
  return createConnection(o);
}

/**
 * Connects, sends `text` and half-closes if given, and resolves with everything received until the
 * peer closes; `what` names the wait in the timeout error.
 */
function collect(
  target: Target,
  port: number,
  text: string | undefined,
  timeoutMs: number,
  what: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = open(target, port);
    let got = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`${what} within ${timeoutMs} ms (got ${JSON.stringify(got)})`));
    }, timeoutMs);
    if (text !== undefined) s.on('connect', () => s.end(text));
    s.on('data', (d: Buffer) => (got += d.toString('utf8')));
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
  });
}

/** Connect, send `text`, half-close, and resolve with everything received until the peer closes. */
export function echo(target: Target, port: number, text: string, timeoutMs = 10_000): Promise<string> {
  return collect(target, port, text, timeoutMs, 'no echo');
}

/** Connect and read everything until the peer closes (for services that print and exit). */
export function readAll(target: Target, port: number, timeoutMs = 10_000): Promise<string> {
  return collect(target, port, undefined, timeoutMs, 'peer did not close');
}

export interface Conversation {
  /** Send `text` and resolve with the next chunk(s) totalling its length. */
  say(text: string): Promise<string>;
  /** Resolves with how the connection ended: 'end', 'reset' or an error code. */
  closed: Promise<string>;
}

export async function exchange(host: string, port: number): Promise<Conversation> {
  const s = open(host, port);
  await new Promise<void>((resolve, reject) => {
    s.once('connect', resolve);
    s.once('error', reject);
  });
  let buf = '';
  let want: { n: number; resolve: (t: string) => void } | undefined;
  s.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    if (want && buf.length >= want.n) {
      const w = want;
      want = undefined;
      const t = buf.slice(0, w.n);
      buf = buf.slice(w.n);
      w.resolve(t);
    }
  });
  const closed = new Promise<string>((resolve) => {
    let how = 'end';
    s.on('error', (e: NodeJS.ErrnoException) => (how = e.code ?? 'error'));
    s.on('close', () => resolve(how));
  });
  return {
    say(text) {
      return new Promise((resolve) => {
        want = { n: text.length, resolve };
        s.write(text);
      });
    },
    closed,
  };
}
