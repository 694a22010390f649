/**
 * netlinkSubscribe: a real rtnetlink multicast subscription receives the RTM_NEWLINK of a dummy
 * link this test creates (and deletes); bad protocols and groups fail with their errno names.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, readSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { netlinkSubscribe, watchReadable, type MptcpSocketError } from '../src/index.js';
import { missing, probes } from './helpers/capability.js';

const NETLINK_ROUTE = 0;
const RTNLGRP_LINK = 1;
const RTM_NEWLINK = 16;
const IFLA_IFNAME = 3;

/** The interface names of the RTM_NEWLINK messages in one datagram. */
function newLinkNames(datagram: Buffer): string[] {
  const names: string[] = [];
  for (let off = 0; off + 16 <= datagram.length;) {
    const len = datagram.readUInt32LE(off);
    if (len < 16) break;
    if (datagram.readUInt16LE(off + 4) === RTM_NEWLINK) {
      for (let a = off + 16 + 16; a + 4 <= off + len;) {
        const alen = datagram.readUInt16LE(a);
        if (alen < 4) break;
        if (datagram.readUInt16LE(a + 2) === IFLA_IFNAME)
          names.push(datagram.toString('utf8', a + 4, a + alen).replace(/\0.*$/s, ''));
        a += (alen + 3) & ~3;
      }
    }
    off += (len + 3) & ~3;
  }
  return names;
}

describe('netlinkSubscribe', () => {
  const noRoot = missing(probes.root);
  it.skipIf(noRoot !== undefined)(
    'delivers rtnetlink link events without blocking the loop',
    async () => {
      const fd = netlinkSubscribe(NETLINK_ROUTE, [RTNLGRP_LINK]);
      const name = `nlsub${process.pid % 100000}`;
      const buf = Buffer.alloc(1 << 16);
      try {
        const seen = new Promise<void>((resolve) => {
          const watcher = watchReadable(fd, () => {
            for (;;) {
              let n: number;
              try {
                n = readSync(fd, buf, 0, buf.length, null);
              } catch (err) {
                if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return; // non-blocking: drained
                throw err;
              }
              if (newLinkNames(buf.subarray(0, n)).includes(name)) {
                watcher.stop();
                resolve();
                return;
              }
            }
          });
        });
        execFileSync('ip', ['link', 'add', name, 'type', 'veth', 'peer', 'name', `${name}p`]);
        await seen;
      } finally {
        execFileSync('ip', ['link', 'del', name], { stdio: 'ignore' });
        closeSync(fd);
      }
    },
    60_000,
  );

  it('fails with the errno name for an unknown protocol or group', () => {
    let err: MptcpSocketError | undefined;
    try {
      netlinkSubscribe(31, [1]);
    } catch (e) {
      err = e as MptcpSocketError;
    }
    expect(err?.name).toBe('MptcpSocketError');
    expect(err?.code).toBe('EPROTONOSUPPORT');
    expect(() => netlinkSubscribe(NETLINK_ROUTE, [100_000])).toThrow(
      expect.objectContaining({ code: 'EINVAL', syscall: 'netlink' }),
    );
    expect(() => netlinkSubscribe(NETLINK_ROUTE, [0])).toThrow(TypeError);
  });
});
