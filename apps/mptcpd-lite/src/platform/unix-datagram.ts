/**
 * Sending one AF_UNIX datagram from this process with the addon's raw syscalls, when they are
 * exported: socket(AF_UNIX, SOCK_DGRAM) → connect(addr) → write(2) → close. Returns undefined when
 * this build of @mptcp/native has no such functions.
 */
import { writeSync } from 'node:fs';
import * as nativeModule from '@mptcp/native';

type Fn = (...args: unknown[]) => unknown;

export function rawDatagramSender(): ((address: string, payload: Buffer) => void) | undefined {
  const mod = nativeModule as unknown as Record<string, unknown>;
  const openUnixDatagram = mod.openUnixDatagram;
  if (typeof openUnixDatagram !== 'function') return undefined;
  const close = mod.close;
  return (address, payload) => {
    const abstract = address.startsWith('@');
    const fd = (openUnixDatagram as Fn)({ family: 'unix', path: abstract ? address.slice(1) : address, abstract }) as number;
    try {
      writeSync(fd, payload);
    } finally {
      if (typeof close === 'function') (close as Fn)(fd);
    }
  };
}
