/**
 * The inet_diag port filter (encodePortFilter) on the kernel: TCP listeners/connections on known
 * ports, one dump with the filter; only sockets with a matching local or remote port come back. And
 * `info` still finds both subflows of a two-subflow connection (the lab test) and the subflow of a
 * loopback pair (info.test.ts) through the filtered dump.
 */
import { describe, expect, it } from 'vitest';
import { decodeMessages } from '../src/netlink/message.js';
import {
  AF_INET,
  decodeDiagMessage,
  encodeDiagRequest,
  encodePortFilter,
  MAX_PORT_CONDITIONS,
} from '../src/netlink/sock-diag.js';
import { netlinkRequest } from '../src/netlink/transport.js';
import { need, python3Unavailable } from './helpers/capability.js';
import { startProcess, stopProcess } from './helpers/cli.js';

describe('encodePortFilter', () => {
  it('compiles as ss does: {S_EQ|D_EQ, yes 8, no 12} + {port}, a JMP to the end between conditions', () => {
    const bc = encodePortFilter([80, 80], [443]);
    expect([...(bc ?? Buffer.alloc(0))]).toEqual([
      11,
      8,
      12,
      0,
      0,
      0,
      80,
      0,
      1,
      4,
      12,
      0,
      12,
      8,
      12,
      0,
      0,
      0,
      443 & 0xff,
      443 >> 8,
    ]);
    expect(encodePortFilter([], [])).toBeUndefined();
    expect(
      encodePortFilter(
        Array.from({ length: MAX_PORT_CONDITIONS + 1 }, (_, i) => i + 1),
        [],
      ),
    ).toBeUndefined();
  });

  it('the kernel accepts it and returns only the sockets on those ports', async (ctx) => {
    need(ctx, python3Unavailable());
    const p = startProcess('python3', [
      '-c',
      [
        'import socket, time',
        'ls = []',
        'for _ in range(3):',
        '    l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(); ls.append(l)',
        'c = socket.socket(); c.connect(ls[2].getsockname())',
        'print("PORTS", *[l.getsockname()[1] for l in ls], flush=True)',
        'time.sleep(60)',
      ].join('\n'),
    ]);
    try {
      const ports = (await p.waitFor(/^PORTS /)).split(' ').slice(1).map(Number) as [number, number, number];
      const [a, b, c] = ports;
      const dump = (bc: Buffer | undefined) =>
        decodeMessages(netlinkRequest(4, encodeDiagRequest(AF_INET, 6, 0, 0xfff, 1, bc)), 'test dump')
          .map((m) => decodeDiagMessage(m.payload)?.socket)
          .filter((s) => s !== undefined);
      const got = dump(encodePortFilter([a], [c]));
      // Listener a (sport a), the client connected to c (dport c); not listener b, not listener c.
      expect(got.some((s) => s.local.port === a && s.state === 'LISTEN')).toBe(true);
      expect(got.some((s) => s.remote.port === c && s.state === 'ESTAB')).toBe(true);
      expect(got.some((s) => s.local.port === b)).toBe(false);
      expect(got.every((s) => s.local.port === a || s.remote.port === c)).toBe(true);
      // Without the filter, b is there.
      expect(dump(undefined).some((s) => s.local.port === b)).toBe(true);
    } finally {
      await stopProcess(p, 'SIGKILL');
    }
  });
});
