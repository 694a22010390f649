/**
 * Sending one AF_UNIX datagram from this process. Node has no AF_UNIX datagram sockets and
 * @mptcp/native exports no send primitive, so this loads the same addon binary that @mptcp/native
 * loads (through its node-gyp-build, from its package directory) and uses its raw syscalls:
 * socket(AF_UNIX, SOCK_DGRAM) → connect(addr) → write(2) → close. The datagram therefore carries this
 * process's PID, as systemd's NotifyAccess=main requires.
 */
import { writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const AF_UNIX = 1;
const SOCK_DGRAM = 2;

interface RawBinding {
  socket(domain: number, type: number, protocol: number): number;
  connect(fd: number, address: { family: 'unix'; path: string; abstract: boolean }): number;
  close(fd: number): number;
}

let cached: RawBinding | null | undefined;

function rawBinding(): RawBinding | undefined {
  if (cached !== undefined) return cached ?? undefined;
  cached = null;
  try {
    const require = createRequire(import.meta.url);
    const nativeRoot = path.dirname(require.resolve('@mptcp/native/package.json'));
    const fromNative = createRequire(path.join(nativeRoot, 'package.json'));
    const load = fromNative('node-gyp-build') as (dir: string) => Record<string, unknown>;
    const b = load(nativeRoot);
    if (typeof b.socket === 'function' && typeof b.connect === 'function' && typeof b.close === 'function') cached = b as unknown as RawBinding;
  } catch {
    cached = null;
  }
  return cached ?? undefined;
}

export function rawDatagramSender(): ((address: string, payload: Buffer) => void) | undefined {
  const b = rawBinding();
  if (!b) return undefined;
  return (address, payload) => {
    const abstract = address.startsWith('@');
    const fd = b.socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd < 0) throw Object.assign(new Error(`socket(AF_UNIX, SOCK_DGRAM): errno ${-fd}`), { errno: -fd });
    try {
      const r = b.connect(fd, { family: 'unix', path: abstract ? address.slice(1) : address, abstract });
      if (r < 0) throw Object.assign(new Error(`connect(${address}): errno ${-r}`), { errno: -r });
      writeSync(fd, payload);
    } finally {
      b.close(fd);
    }
  };
}
