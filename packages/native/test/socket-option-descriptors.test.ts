/**
 * openSocket() applies @mptcp/constants' SOCKET_OPTION_DESCRIPTORS generically: each descriptor
 * on its own, read back with getsockopt at the level/option the descriptor names (the IPv6 and
 * `choice` variants included), and Timestamping= (the `choice` encoding) on UDP, TCP and MPTCP.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  IPPROTO_MPTCP,
  IPPROTO_TCP,
  SOCKET_OPTION_DESCRIPTORS,
  SOCKOPT,
  type SocketOptionDescriptor,
} from '@mptcp/constants';
import { close, getSocketOption, openSocket, type OpenSocketSpec } from '../src/index.js';
import { missing, probes } from './helpers/capability.js';

const noMptcp = missing(probes.mptcp);
const noRoot = missing(probes.root);
const fds: number[] = [];
afterEach(() => {
  for (const fd of fds.splice(0)) close(fd);
});

function open(spec: OpenSocketSpec): ReturnType<typeof openSocket> {
  const s = openSocket(spec);
  fds.push(s.fd);
  return s;
}

const read = (fd: number, t: { level: number; optname: number }): number => getSocketOption(fd, t.level, t.optname);

/** Flag options a process without CAP_NET_ADMIN may not set. */
const PRIVILEGED = new Set(['Transparent']);

/** Where a flag option means something: TCP options on a TCP socket, SO_PASS{CRED,SEC} on AF_UNIX (Linux
 * refuses them on IP sockets since 6.16), the rest on UDP over IPv4 and IPv6 (its v6 variant). */
function socketsFor(d: SocketOptionDescriptor): Array<{ spec: OpenSocketSpec; v6: boolean }> {
  if (d.set.name === 'SO_PASSCRED' || d.set.name === 'SO_PASSSEC')
    return [
      {
        spec: {
          kind: 'datagram',
          address: { family: 'unix', path: `mptcp-desc-${process.pid}-${d.field}`, abstract: true },
        },
        v6: false,
      },
    ];
  const kind = d.set.level === IPPROTO_TCP ? 'stream' : 'datagram';
  return [
    { spec: { kind, address: { family: 'inet', address: '127.0.0.1', port: 0 } }, v6: false },
    { spec: { kind, address: { family: 'inet6', address: '::1', port: 0 } }, v6: true },
  ];
}

describe('openSocket: every flag descriptor on its own', () => {
  const flags = SOCKET_OPTION_DESCRIPTORS.filter((d) => d.encoding === 'flag');
  it.each(flags.map((d) => [d.directive, d] as const))('%s: set at its own level/option', (name, d) => {
    if (PRIVILEGED.has(name) && noRoot) return;
    for (const { spec, v6 } of socketsFor(d)) {
      const s = open({ ...spec, [d.field]: true });
      expect(s.warnings).toEqual([]);
      expect(read(s.fd, v6 && d.v6 ? d.v6 : d.set)).toBe(1);
    }
  });
});

describe('openSocket: Timestamping= (the choice encoding)', () => {
  it.each([
    ['us', SOCKOPT.SO_TIMESTAMP, SOCKOPT.SO_TIMESTAMPNS],
    ['ns', SOCKOPT.SO_TIMESTAMPNS, SOCKOPT.SO_TIMESTAMP],
  ] as const)('timestamping %s sets %s only, on UDP and TCP', (value, on, off) => {
    for (const kind of ['datagram', 'stream'] as const) {
      const s = open({ kind, address: { family: 'inet', address: '127.0.0.1', port: 0 }, timestamping: value });
      expect(s.warnings).toEqual([]);
      expect(read(s.fd, on)).toBe(1);
      expect(read(s.fd, off)).toBe(0);
    }
  });

  it('off (and an unknown word) sets nothing', () => {
    for (const timestamping of ['off', 'bogus']) {
      const s = open({ kind: 'datagram', address: { family: 'inet', address: '127.0.0.1', port: 0 }, timestamping });
      expect(read(s.fd, SOCKOPT.SO_TIMESTAMP)).toBe(0);
      expect(read(s.fd, SOCKOPT.SO_TIMESTAMPNS)).toBe(0);
    }
  });

  it.skipIf(noMptcp)('an MPTCP listener takes it without a warning', () => {
    const s = open({
      kind: 'stream',
      protocol: IPPROTO_MPTCP,
      address: { family: 'inet', address: '127.0.0.1', port: 0 },
      timestamping: 'ns',
    });
    expect(s.protocol).toBe(IPPROTO_MPTCP);
    expect(s.warnings).toEqual([]);
  });
});
