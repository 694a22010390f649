/**
 * The daemon's control socket: AF_UNIX stream on raw fds (@mptcp/native's listenUnixStream,
 * watchEvents; read(2)/write(2) through node:fs). Not node:net: a net.Server's listen() loads
 * node:cluster and with it child_process, dgram and the stream modules, ~2 MB of the idle daemon's
 * RSS for one socket that sees a request now and then. The socket node is created mode 0600 (bind()
 * runs under a thread umask: no chmod afterwards, so no window and no chmod that follows a symlink)
 * inside a directory that must belong to the daemon's uid (or root) and be writable by no one else.
 * Peers are checked with SO_PEERCRED (root or the daemon's own uid); when credentials cannot be read
 * the connection is refused. One JSON request per line, one JSON reply per line; anything malformed
 * gets an error reply and never reaches the daemon. A client that stops reading is not read from
 * either (its replies stay bounded), and an idle connection is closed
 * unless a request of its own is still being answered (`start` waits for its job).
 */
import { lstatSync, mkdirSync, readSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import {
  accept,
  close,
  connectUnixStream,
  listenUnixStream,
  peerCredentials,
  shutdownWrite,
  watchEvents,
  type FdWatcher,
  type PeerCredentials,
} from '@mptcp/native';
import { MptcpdLiteError } from '../errors.js';
import { toJson } from '../json.js';
import { parseRequest, type ControlCommand, type ControlRequest } from './protocol.js';

const MAX_LINE = 64 * 1024;
/** Replies buffered for one client before the daemon stops reading its requests. */
export const MAX_PENDING_OUTPUT = 256 * 1024;
/** Requests of one client waiting for their replies before the daemon stops reading its requests. */
export const MAX_PENDING_REQUESTS = 32;
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

function peerOf(fd: number): PeerCredentials | undefined {
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
function clearStale(p: string): void {
  try {
    if (!lstatSync(p).isSocket()) throw new Error(`${p} exists and is not a socket`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  let live = true;
  try {
    close(connectUnixStream(p));
  } catch (err) {
    // ECONNREFUSED: a node nobody listens on. EAGAIN (a full backlog) means a live daemon.
    const code = (err as { code?: string }).code;
    live = code !== 'ECONNREFUSED' && code !== 'ENOENT';
  }
  if (live)
    throw new MptcpdLiteError(
      'EADDRINUSE',
      `${p}: another mptcpd-lite is already running (its control socket answers)`,
    );
  rmSync(p, { force: true });
}

const READ_CHUNK = 16 * 1024;
/** After accept() failed (EMFILE, ENFILE, ENOBUFS): the pause before the next try. */
const ACCEPT_RETRY_MS = 250;

function errnoCode(err: unknown): string | undefined {
  return (err as { code?: string }).code;
}

/**
 * One control connection on a non-blocking fd: requests are read up to each newline, replies are
 * queued and written as the peer takes them. Reading pauses while more than MAX_PENDING_OUTPUT of
 * replies wait for the peer or more than MAX_PENDING_REQUESTS requests wait for theirs: a client that
 * sends and never reads holds a bounded amount of the daemon. end() writes what is queued and shuts
 * the write side (the peer reads end-of-file after the replies), then reads and drops whatever the
 * peer still sends until it closes (or the idle limit): closing with unread input would reset the
 * connection, and the peer could lose a reply it has not read yet. A peer that half-closes after its
 * requests (`socat`, `nc -N`) gets their replies, then end-of-file (onEnd()).
 */
class ControlConnection {
  private watcher: FdWatcher | undefined;
  private watchRead = false;
  private watchWrite = false;
  private readonly out: Buffer[] = [];
  private outBytes = 0;
  private input: Buffer = Buffer.alloc(0);
  private ending = false;
  private shut = false;
  /** The peer sent end-of-file: nothing more to read. */
  private peerEnded = false;
  private idle: NodeJS.Timeout | undefined;
  /** Requests read whose replies are not queued yet (the server counts them). */
  pending = 0;
  closed = false;

  constructor(
    readonly fd: number,
    private readonly idleMs: number,
    private readonly onLines: (lines: string[]) => void,
    private readonly onOversize: () => void,
    private readonly onIdle: () => void,
    private readonly onEnd: () => void,
    private readonly onClose: () => void,
  ) {
    this.touch();
    this.rewatch();
  }

  /** Queues one reply. */
  write(text: string): void {
    if (this.closed) return;
    const b = Buffer.from(text, 'utf8');
    this.out.push(b);
    this.outBytes += b.length;
    this.flush();
  }

  /** A request's reply is queued (or dropped): reading may resume. */
  answered(): void {
    this.pending--;
    this.rewatch();
  }

  end(): void {
    if (this.closed || this.ending) return;
    this.ending = true;
    this.input = Buffer.alloc(0);
    this.flush();
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.watcher?.stop();
    this.watcher = undefined;
    clearTimeout(this.idle);
    try {
      close(this.fd);
    } catch {
      // already gone
    }
    this.onClose();
  }

  /** Starts the idle limit over (a reply written, a byte read, or a request still being answered). */
  touch(): void {
    clearTimeout(this.idle);
    this.idle = setTimeout(() => this.onIdle(), this.idleMs);
    this.idle.unref?.();
  }

  private rewatch(): void {
    if (this.closed) return;
    // Reading pauses while too much waits for the peer or for the daemon (unless we only drain
    // the peer before closing), and stops at its end-of-file.
    const read =
      !this.peerEnded && (this.ending || (this.outBytes <= MAX_PENDING_OUTPUT && this.pending < MAX_PENDING_REQUESTS));
    const write = this.outBytes > 0;
    if (this.watcher?.active && read === this.watchRead && write === this.watchWrite) return;
    this.watcher?.stop();
    this.watchRead = read;
    this.watchWrite = write;
    this.watcher =
      read || write
        ? watchEvents(this.fd, { readable: read, writable: write }, (error, ready) => {
            if (error) return this.destroy();
            if (ready.writable) this.flush();
            if (ready.readable && this.watchRead) this.read();
          })
        : undefined;
  }

  private flush(): void {
    while (this.out.length > 0 && !this.closed) {
      const head = this.out[0] as Buffer;
      let n: number;
      try {
        n = writeSync(this.fd, head);
      } catch (err) {
        if (errnoCode(err) === 'EAGAIN') break;
        return this.destroy(); // EPIPE, ECONNRESET: the peer is gone
      }
      this.touch();
      this.outBytes -= n;
      if (n < head.length) this.out[0] = head.subarray(n);
      else this.out.shift();
    }
    if (this.ending && this.out.length === 0 && !this.closed) {
      // The peer already said it is done: nothing to drain.
      if (this.peerEnded) return this.destroy();
      if (!this.shut) {
        // Like net's end(): the peer reads the replies, then end-of-file.
        this.shut = true;
        try {
          shutdownWrite(this.fd);
        } catch {
          // ENOTCONN: the peer is gone; the read side finds out
        }
      }
    }
    this.rewatch();
  }

  private read(): void {
    const buf = Buffer.allocUnsafe(READ_CHUNK);
    for (;;) {
      if (this.closed) return;
      let n: number;
      try {
        n = readSync(this.fd, buf, 0, READ_CHUNK, null);
      } catch (err) {
        if (errnoCode(err) === 'EAGAIN') break;
        return this.destroy();
      }
      if (n === 0) {
        // End-of-file: after end() the conversation is over; else the requests read so far are
        // still answered (onEnd()), and then the connection ends.
        if (this.ending) return this.destroy();
        this.peerEnded = true;
        this.input = Buffer.alloc(0);
        this.rewatch();
        this.onEnd();
        return;
      }
      this.touch();
      if (this.ending) continue;
      this.input = Buffer.concat([this.input, buf.subarray(0, n)]);
      const last = this.input.lastIndexOf(0x0a);
      if (last < 0) {
        if (this.input.length > MAX_LINE) {
          this.input = Buffer.alloc(0);
          this.onOversize();
        }
        continue;
      }
      // A newline byte never occurs inside a UTF-8 sequence: decoding whole lines is safe.
      const lines = this.input.toString('utf8', 0, last).split('\n');
      this.input = this.input.subarray(last + 1);
      this.onLines(lines);
      if (this.input.length > MAX_LINE) {
        this.input = Buffer.alloc(0);
        this.onOversize();
      }
      if (this.outBytes > MAX_PENDING_OUTPUT || this.pending >= MAX_PENDING_REQUESTS) break;
    }
    this.rewatch();
  }
}

export async function startControlServer(opts: ControlServerOptions): Promise<ControlServer> {
  const uid = process.getuid?.() ?? 0;
  ensureControlDir(path.dirname(opts.path), uid);
  clearStale(opts.path);
  const allow = opts.allow ?? ((c: PeerCredentials) => c.uid === 0 || c.uid === uid);
  const idleMs = opts.idleMs ?? CONTROL_IDLE_MS;
  const conns = new Set<ControlConnection>();

  const serve = (fd: number): void => {
    let busy: Promise<void> = Promise.resolve();
    const reply = (obj: Record<string, unknown>): void => conn.write(toJson(obj) + '\n');
    const conn: ControlConnection = new ControlConnection(
      fd,
      idleMs,
      (lines) => {
        for (const raw of lines) {
          const line = raw.trim();
          if (line === '') continue;
          const req = parseRequest(line);
          conn.pending++;
          busy = busy.then(async () => {
            try {
              // A client gone meanwhile: its remaining requests are not run.
              if (conn.closed) return;
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
            } finally {
              conn.answered();
            }
          });
        }
      },
      () => {
        reply({ ok: false, error: { code: 'EMSGSIZE', message: `request longer than ${MAX_LINE} bytes` } });
        conn.end();
      },
      () => {
        // A request still being answered (a start that waits for its job, as systemctl does, for
        // as long as the job takes) keeps its connection: the limit is for silent peers.
        if (conn.pending > 0) {
          opts.log(
            'debug',
            `control socket: a connection idle for ${idleMs} ms waits for ${conn.pending} reply(ies): kept`,
          );
          conn.touch();
          return;
        }
        opts.log('debug', `control socket: closing a connection idle for ${idleMs} ms`);
        conn.destroy();
      },
      // The peer half-closed: answer what it asked, then end.
      () => void busy.then(() => conn.end()),
      () => conns.delete(conn),
    );
    conns.add(conn);
    // Fail closed: a peer whose credentials cannot be read is refused like a foreign one.
    const cred = peerOf(fd);
    if (cred === undefined || !allow(cred)) {
      const who = cred === undefined ? 'a peer whose credentials (SO_PEERCRED) cannot be read' : `uid ${cred.uid}`;
      opts.log('debug', `control socket: refused ${who}`);
      reply({
        ok: false,
        error: { code: 'EPERM', message: `${who} may not control this daemon (root or uid ${uid} only)` },
      });
      conn.end();
    }
  };

  const listenFd = listenUnixStream(opts.path, { mode: 0o600 });
  let acceptor: FdWatcher | undefined;
  let retry: NodeJS.Timeout | undefined;
  let acceptFailing = false;
  let closed = false;
  const acceptAll = (): void => {
    for (;;) {
      let c;
      try {
        c = accept(listenFd);
      } catch (err) {
        // EMFILE and friends: the connection stays queued and the fd readable; a watcher would fire
        // at once again. Wait a moment instead, and say so once until an accept() works again.
        if (!acceptFailing) opts.log('warning', `control socket: ${(err as Error).message} (retrying)`);
        acceptFailing = true;
        acceptor?.stop();
        retry = setTimeout(watchAccept, ACCEPT_RETRY_MS);
        return;
      }
      if (c === null) return;
      acceptFailing = false;
      serve(c.fd);
    }
  };
  const watchAccept = (): void => {
    retry = undefined;
    acceptor = watchEvents(listenFd, { readable: true, writable: false }, (error) => {
      if (error) opts.log('warning', `control socket: ${error.message}`);
      else acceptAll();
    });
  };
  watchAccept();
  return {
    path: opts.path,
    close: () => {
      // Once: a second call must not close an fd number that may belong to something else by then.
      if (closed) return Promise.resolve();
      closed = true;
      clearTimeout(retry);
      acceptor?.stop();
      for (const c of conns) c.destroy();
      close(listenFd);
      rmSync(opts.path, { force: true });
      return Promise.resolve();
    },
  };
}
