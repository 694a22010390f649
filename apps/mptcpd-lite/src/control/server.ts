/**
 * The daemon's control socket: AF_UNIX stream (node:net), node mode 0600 inside a 0700 directory the
 * daemon creates, peers checked with SO_PEERCRED (root or the daemon's own uid). One JSON request per
 * line, one JSON reply per line; anything malformed gets an error reply and never reaches the daemon.
 */
import { chmodSync, mkdirSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { toJson } from '../json.js';
import { nativeFn, socketFd } from '../platform/native.js';
import type { PeerCredentials } from '../platform/native-types.js';
import { parseRequest, type ControlCommand } from './protocol.js';

const MAX_LINE = 64 * 1024;

export type ControlHandler = (cmd: ControlCommand) => Promise<Record<string, unknown>>;

export interface ControlServer {
  path: string;
  close(): Promise<void>;
}

export interface ControlServerOptions {
  path: string;
  handler: ControlHandler;
  log: (level: 'warning' | 'debug', message: string) => void;
  /** Peer check; default: SO_PEERCRED uid is 0 or ours. */
  allow?: (cred: PeerCredentials) => boolean;
}

function peerOf(conn: net.Socket): PeerCredentials | undefined | null {
  const fn = nativeFn('peerCredentials');
  const fd = socketFd(conn);
  if (!fn || fd === undefined) return undefined;
  try {
    return fn(fd);
  } catch {
    return null;
  }
}

/** Removes a stale socket node left by a crashed daemon; refuses to replace a live one. */
async function clearStale(p: string): Promise<void> {
  try {
    if (!statSync(p).isSocket()) throw new Error(`${p} exists and is not a socket`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const live = await new Promise<boolean>((resolve) => {
    const s = net.connect(p);
    s.on('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
  if (live) throw Object.assign(new Error(`${p}: another mptcpd-lite is already running (its control socket answers)`), { code: 'EADDRINUSE' });
  rmSync(p, { force: true });
}

export async function startControlServer(opts: ControlServerOptions): Promise<ControlServer> {
  const dir = path.dirname(opts.path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  await clearStale(opts.path);
  const uid = process.getuid?.() ?? 0;
  const allow = opts.allow ?? ((c: PeerCredentials) => c.uid === 0 || c.uid === uid);
  let warnedNoCreds = false;
  const conns = new Set<net.Socket>();

  const server = net.createServer((conn) => {
    conns.add(conn);
    conn.on('close', () => conns.delete(conn));
    conn.on('error', () => conn.destroy());
    const reply = (obj: Record<string, unknown>): void => {
      if (!conn.destroyed) conn.write(toJson(obj) + '\n');
    };
    const cred = peerOf(conn);
    if (cred === undefined && !warnedNoCreds) {
      warnedNoCreds = true;
      opts.log('warning', 'control socket: peer credentials unavailable (@mptcp/native peerCredentials); relying on the socket mode 0600');
    }
    if (cred === null || (cred && !allow(cred))) {
      reply({ ok: false, error: { code: 'EPERM', message: `uid ${cred?.uid ?? '?'} may not control this daemon (root or uid ${uid} only)` } });
      conn.end();
      return;
    }
    let buf = '';
    let busy: Promise<void> = Promise.resolve();
    conn.setEncoding('utf8');
    conn.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_LINE && !buf.includes('\n')) {
        reply({ ok: false, error: { code: 'EMSGSIZE', message: `request longer than ${MAX_LINE} bytes` } });
        conn.end();
        buf = '';
        return;
      }
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line === '') continue;
        const req = parseRequest(line);
        busy = busy.then(async () => {
          if ('error' in req) {
            opts.log('debug', `control socket: bad request: ${req.error.message}`);
            reply({ ok: false, ...req });
            return;
          }
          try {
            const result = await opts.handler(req.cmd);
            reply({ ok: true, ...(req.id !== undefined ? { id: req.id } : {}), ...result });
          } catch (err) {
            reply({ ok: false, id: req.id, error: { code: (err as { code?: string }).code ?? 'EIO', message: err instanceof Error ? err.message : String(err) } });
          }
        });
      }
    });
  });
  server.on('error', (err) => opts.log('warning', `control socket: ${err.message}`));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  chmodSync(opts.path, 0o600);
  return {
    path: opts.path,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of conns) c.destroy();
        server.close(() => {
          rmSync(opts.path, { force: true });
          resolve();
        });
      }),
  };
}
