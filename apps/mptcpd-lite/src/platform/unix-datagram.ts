/**
 * Sending one AF_UNIX datagram from this process with the addon's raw syscalls (its `binding()`:
 * socket(AF_UNIX, SOCK_DGRAM) → connect(addr) → write(2) → close), when this build of
 * @mptcp/native exports them. Node itself has no AF_UNIX datagram sockets.
 */
import { writeSync } from 'node:fs';
import * as nativeModule from '@mptcp/native';

const AF_UNIX = 1;
const SOCK_DGRAM = 2;

interface RawBinding {
  socket(domain: number, type: number, protocol: number): number;
  connect(fd: number, address: { family: 'unix'; path: string; abstract: boolean }): number;
  close(fd: number): number;
}

function rawBinding(): RawBinding | undefined {
  const mod = nativeModule as unknown as Record<string, unknown>;
  const get = mod.binding;
  if (typeof get !== 'function') return undefined;
  try {
    const b = (get as () => Record<string, unknown>)();
    return typeof b.socket === 'function' && typeof b.connect === 'function' && typeof b.close === 'function' ? (b as unknown as RawBinding) : undefined;
  } catch {
    return undefined;
  }
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
