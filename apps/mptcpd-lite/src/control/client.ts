/**
 * A one-shot control-socket client: connect, check who serves the socket (SO_PEERCRED: root or our
 * own uid — anyone else could have put a socket there to answer in the daemon's name), send one
 * request line, read one reply line.
 */
import net from 'node:net';
import { peerCredentials, tryFdOf } from '@mptcp/native';
import { CliError, EXIT_ERROR, errnoOf } from '../exit-codes.js';
import type { ControlCommand, ControlReply } from './protocol.js';

export function controlRequest(
  path: string,
  cmd: ControlCommand,
  timeoutMs = 5000,
  args: Record<string, unknown> = {},
): Promise<ControlReply> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(path);
    let buf = '';
    // Infinity: no limit (setTimeout() would fire at once for it).
    const timer = Number.isFinite(timeoutMs)
      ? setTimeout(() => {
          sock.destroy();
          reject(new CliError(`${path}: no reply from the daemon within ${timeoutMs} ms`, EXIT_ERROR, 'ETIMEDOUT'));
        }, timeoutMs)
      : undefined;
    sock.setEncoding('utf8');
    sock.on('connect', () => {
      const problem = serverProblem(sock);
      if (problem !== undefined) {
        clearTimeout(timer);
        sock.destroy();
        reject(new CliError(`${path}: ${problem}`, EXIT_ERROR, 'EPERM'));
        return;
      }
      sock.write(JSON.stringify({ ...args, cmd }) + '\n');
    });
    sock.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      sock.end();
      try {
        resolve(JSON.parse(buf.slice(0, nl)) as ControlReply);
      } catch {
        reject(new CliError(`${path}: malformed reply from the daemon`, EXIT_ERROR, 'EBADMSG'));
      }
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      const code = errnoOf(err);
      const hint =
        code === 'ENOENT' || code === 'ECONNREFUSED'
          ? ' (is `mptcpd-lite run` running? pass its --control PATH)'
          : code === 'EACCES'
            ? " (the control socket is mode 0600: run as the daemon's user or root)"
            : '';
      reject(new CliError(`${path}: ${code ?? err.message}${hint}`, EXIT_ERROR, code));
    });
    sock.on('end', () => {
      clearTimeout(timer);
      if (!buf.includes('\n'))
        reject(new CliError(`${path}: the daemon closed the connection without a reply`, EXIT_ERROR, 'ECONNRESET'));
    });
  });
}

/** Why the peer of `sock` is not a daemon we may trust, or undefined when it is (uid 0 or ours). */
export function serverProblem(sock: net.Socket, uid = process.getuid?.() ?? 0): string | undefined {
  const fd = tryFdOf(sock);
  let peerUid: number | undefined;
  try {
    if (fd !== undefined) peerUid = peerCredentials(fd).uid;
  } catch {
    peerUid = undefined;
  }
  if (peerUid === undefined)
    return 'cannot read the credentials of the process serving the control socket (SO_PEERCRED); not talking to it';
  if (peerUid !== 0 && peerUid !== uid)
    return `the control socket is served by uid ${peerUid}, not by root or by you (uid ${uid}); not talking to it (another user may have put it there)`;
  return undefined;
}
