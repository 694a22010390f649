/**
 * sd_notify(3) for the daemon itself, so it can run under systemd `Type=notify`: one AF_UNIX
 * SOCK_DGRAM datagram of newline-separated KEY=VALUE to $NOTIFY_SOCKET (a path, or `@name` for the
 * abstract namespace). systemd checks the sender's PID (SCM_CREDENTIALS) against MainPID, so the
 * datagram must come from this process — or carry this process's PID as explicit credentials.
 *
 * Transports, best first: the addon's `sendDatagram`; the addon's raw socket()/connect() (then a
 * write(2) on the connected datagram socket); a python3 one-shot that sends SCM_CREDENTIALS with *our*
 * PID (allowed for root/CAP_SYS_ADMIN; otherwise it sends its own PID, which systemd accepts only
 * with NotifyAccess=all).
 */
import { spawn } from 'node:child_process';
import { nativeFn } from '../platform/native.js';
import { rawDatagramSender } from '../platform/unix-datagram.js';

export type NotifySender = (address: string, payload: Buffer) => Promise<void>;

const PYTHON_NOTIFY = `
import os, socket, struct, sys
addr, pid = sys.argv[1], int(sys.argv[2])
data = sys.stdin.buffer.read()
if addr.startswith('@'): addr = '\\0' + addr[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
try:
    s.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS, struct.pack('iII', pid, os.getuid(), os.getgid()))], 0, addr)
except PermissionError:
    s.sendto(data, addr)
`;

const pythonSender: NotifySender = (address, payload) =>
  new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', PYTHON_NOTIFY, address, String(process.pid)], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`sd_notify via python3 failed: ${err.trim().split('\n').pop() ?? code}`))));
    child.stdin.end(payload);
  });

/** The best available sender and its name. */
export function notifySender(): { name: string; send: NotifySender } {
  const send = nativeFn('sendDatagram');
  if (send) return { name: 'native sendDatagram', send: async (a, p) => send(a, p) };
  const raw = rawDatagramSender();
  if (raw) return { name: 'native socket+connect', send: async (a, p) => raw(a, p) };
  return { name: 'python3 (SCM_CREDENTIALS)', send: pythonSender };
}

export interface Notifier {
  /** True when $NOTIFY_SOCKET was set. */
  readonly enabled: boolean;
  notify(fields: Record<string, string | number>): Promise<void>;
}

/** A notifier for $NOTIFY_SOCKET; a no-op when it is unset. Errors go to `onError`, never thrown. */
export function createNotifier(env: NodeJS.ProcessEnv, onError: (message: string) => void, sender: { name: string; send: NotifySender } = notifySender()): Notifier {
  const address = env.NOTIFY_SOCKET;
  if (!address) return { enabled: false, notify: async () => {} };
  // Sends are serialised so READY=1 cannot overtake an earlier STATUS=.
  let chain: Promise<void> = Promise.resolve();
  return {
    enabled: true,
    notify(fields) {
      const payload = Buffer.from(
        Object.entries(fields)
          .map(([k, v]) => `${k}=${v}`)
          .join('\n') + '\n',
      );
      chain = chain.then(() => sender.send(address, payload).catch((err: unknown) => onError(`sd_notify to ${address} failed (${sender.name}): ${err instanceof Error ? err.message : String(err)}`)));
      return chain;
    },
  };
}

/** CLOCK_MONOTONIC in microseconds, for RELOADING=1's MONOTONIC_USEC= (Node's hrtime is CLOCK_MONOTONIC). */
export function monotonicUsec(): string {
  return (process.hrtime.bigint() / 1000n).toString();
}
