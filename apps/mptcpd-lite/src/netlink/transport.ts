/**
 * Sends one netlink request and returns the reply datagrams. The real transport is the addon's
 * `netlinkRequest(protocol, message)`; when this build of @mptcp/native lacks it, a python3 one-shot
 * does the same socket(AF_NETLINK)/send/recv loop (a stop-gap reported as such, see README).
 */
import { spawnSync } from 'node:child_process';
import { nativeFn } from '../platform/native.js';

export type NetlinkTransport = (protocol: number, message: Buffer) => Buffer[];

const PYTHON_NETLINK = `
import socket, sys, struct
proto = int(sys.argv[1]); msg = bytes.fromhex(sys.stdin.read().strip())
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, proto)
s.bind((0, 0)); s.send(msg)
dump = (struct.unpack_from('<H', msg, 6)[0] & 0x300) != 0
while True:
    data = s.recv(1 << 20)
    sys.stdout.write(data.hex() + '\\n')
    off, end = 0, False
    while off + 16 <= len(data):
        ln, ty, fl = struct.unpack_from('<IHH', data, off)
        if ty in (2, 3) or not (fl & 2): end = True
        off += (ln + 3) & ~3
    if end or not dump and off >= len(data): break
`;

function pythonTransport(protocol: number, message: Buffer): Buffer[] {
  const r = spawnSync('python3', ['-c', PYTHON_NETLINK, String(protocol)], { input: message.toString('hex'), encoding: 'utf8', timeout: 5000 });
  if (r.error) throw Object.assign(new Error(`netlink request (python3 fallback): ${r.error.message}`), { code: 'NATIVE_MISSING' });
  if (r.status !== 0) {
    const errno = /OSError: \[Errno \d+\] (.*)/.exec(r.stderr)?.[1] ?? r.stderr.trim().split('\n').pop();
    throw Object.assign(new Error(`netlink request (python3 fallback): ${errno ?? 'failed'}`), { code: 'EIO' });
  }
  return r.stdout
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => Buffer.from(l, 'hex'));
}

/** Which transport is in use: 'native' or 'python3' (for messages and --json). */
export function netlinkTransportName(): 'native' | 'python3' {
  return nativeFn('netlinkRequest') ? 'native' : 'python3';
}

export const netlinkRequest: NetlinkTransport = (protocol, message) => {
  const fn = nativeFn('netlinkRequest');
  return fn ? fn(protocol, message) : pythonTransport(protocol, message);
};
