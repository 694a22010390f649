/**
 * The daemon's control socket: AF_UNIX stream (node:net). The socket node is created mode 0600 (the
 * umask is set around bind(): no chmod afterwards, so no window and no chmod that follows a symlink)
 * inside a directory that must belong to the daemon's uid (or root) and be writable by no one else.
 * Peers are checked with SO_PEERCRED (root or the daemon's own uid); when credentials cannot be read
 * the connection is refused. One JSON request per line, one JSON reply per line; anything malformed
 * gets an error reply and never reaches the daemon. A client that stops reading is not read from
 * either (its replies stay bounded), and an idle connection is closed.
 */
import { lstatSync, mkdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { peerCredentials, tryFdOf, type PeerCredentials } from '@mptcp/native';
import { MptcpdLiteError } from '../errors.js';
import { toJson } from '../json.js';
import { parseRequest, type ControlCommand, type ControlRequest } from './protocol.js';

const MAX_LINE = 64 * 1024;
/** Replies buffered for one client before the daemon stops reading its requests. */
export const MAX_PENDING_OUTPUT = 256 * 1024;
/** A connection with no request and no reply read for this long is closed. */
export const CONTROL_IDLE_MS = 60_000;

export type ControlHandler = (cmd: ControlCommand, request: ControlRequest) => Promise<Record<string, unknown>>;

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
  /** Idle limit per connection (default CONTROL_IDLE_MS). */
  idleMs?: number;
}

function peerOf(conn: net.Socket): PeerCredentials | undefined {
  const fd = tryFdOf(conn);
  if (fd === undefined) return undefined;
  try {
    return peerCredentials(fd);
  } catch {
    return undefined;
  }
}

function codeError(message: string, code: string): Error {
  return new MptcpdLiteError(code, message);
}

/**
 * Creates (0700) or checks the control socket's directory: a real directory (not a symlink), owned
 * by the daemon's uid or root, and writable by nobody else — unless it is a root-owned sticky
 * directory such as /tmp, where others cannot rename or remove what we create.
 */
export function ensureControlDir(dir: string, uid = process.getuid?.() ?? 0): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  if (st.isSymbolicLink())
    throw codeError(
      `${dir}: the control socket's directory is a symlink; refusing it (remove it or pass --control PATH)`,
      'ELOOP',
    );
  if (!st.isDirectory()) throw codeError(`${dir}: not a directory`, 'ENOTDIR');
  if (st.uid !== uid && st.uid !== 0) {
    throw codeError(
      `${dir}: owned by uid ${st.uid}, not by this daemon (uid ${uid}); another user may have created it — refusing (remove it or pass --control PATH)`,
      'EPERM',
    );
  }
  const sticky = (st.mode & 0o1000) !== 0;
  if ((st.mode & 0o022) !== 0 && !(sticky && st.uid === 0)) {
    throw codeError(
      `${dir}: writable by others (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')}); refusing it for the control socket (chmod go-w, or pass --control PATH)`,
      'EPERM',
    );
  }
}

/** Removes a stale socket node left by a crashed daemon; refuses to replace a live one. */
async function clearStale(p: string): Promise<void> {
  try {
    if (!lstatSync(p).isSocket()) throw new Error(`${p} exists and is not a socket`);
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
  if (live)
    throw new MptcpdLiteError(
      'EADDRINUSE',
      `${p}: another mptcpd-lite is already running (its control socket answers)`,
    );
  rmSync(p, { force: true });
}

/** bind() under umask 0177: the node exists with mode 0600 from the first instant. */
function listenPrivate(server: net.Server, p: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // Node binds a path synchronously inside listen(); the umask is process-wide, so restore it at once.
    const old = process.umask(0o177);
    try {
      server.listen(p, () => {
        server.off('error', reject);
        resolve();
      });
    } finally {
      process.umask(old);
    }
  });
}

export async function startControlServer(opts: ControlServerOptions): Promise<ControlServer> {
  const uid = process.getuid?.() ?? 0;
  ensureControlDir(path.dirname(opts.path), uid);
  await clearStale(opts.path);
  const allow = opts.allow ?? ((c: PeerCredentials) => c.uid === 0 || c.uid === uid);
  const idleMs = opts.idleMs ?? CONTROL_IDLE_MS;
  const conns = new Set<net.Socket>();

  const server = net.createServer((conn) => {
    conns.add(conn);
    conn.on('close', () => conns.delete(conn));
    conn.on('error', () => conn.destroy());
    conn.setTimeout(idleMs, () => {
      opts.log('debug', `control socket: closing a connection idle for ${idleMs} ms`);
      conn.destroy();
    });
    const reply = (obj: Record<string, unknown>): void => {
      if (conn.destroyed) return;
      conn.write(toJson(obj) + '\n');
      // The client is not reading: stop reading its requests until it has taken the replies.
      if (conn.writableLength > MAX_PENDING_OUTPUT && !conn.isPaused()) {
        conn.pause();
        conn.once('drain', () => conn.resume());
      }
    };
    // Fail closed: a peer whose credentials cannot be read is refused like a foreign one.
    const cred = peerOf(conn);
    if (cred === undefined || !allow(cred)) {
      const who = cred === undefined ? 'a peer whose credentials (SO_PEERCRED) cannot be read' : `uid ${cred.uid}`;
      opts.log('debug', `control socket: refused ${who}`);
      reply({
        ok: false,
        error: { code: 'EPERM', message: `${who} may not control this daemon (root or uid ${uid} only)` },
      });
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
            const result = await opts.handler(req.cmd, req);
            reply({ ok: true, ...(req.id !== undefined ? { id: req.id } : {}), ...result });
          } catch (err) {
            reply({
              ok: false,
              id: req.id,
              error: {
                code: (err as { code?: string }).code ?? 'EIO',
                message: err instanceof Error ? err.message : String(err),
              },
            });
          }
        });
      }
    });
  });
  server.on('error', (err) => opts.log('warning', `control socket: ${err.message}`));
  await listenPrivate(server, opts.path);
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
