/**
 * The [Socket] options from unit text to the kernel: @mptcp/unit's rows → socketOptionValues() →
 * @mptcp/native's openSocket() (descriptors of @mptcp/constants), read back with getsockopt.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { IPPROTO_MPTCP, SOCKOPT } from '@mptcp/constants';
import { getSocketOption } from '@mptcp/native';
import { parseUnitText, type SocketUnit } from '@mptcp/unit';
import { closePorts, loadNative, openPorts, type OpenedPort } from '../src/index.js';
import { mptcp, need } from './helpers/capability.js';
import { testLogger } from './helpers/log.js';
import { loopback } from './helpers/run.js';

const native = await loadNative();
let ports: OpenedPort[] = [];
afterEach(() => {
  closePorts(ports, native, true);
  ports = [];
});

function unit(body: string): SocketUnit {
  const r = parseUnitText(`[Socket]\n${body}\n`, { file: '/t/opts.socket', executables: false });
  expect(r.diagnostics).toEqual([]);
  if (r.unit?.kind !== 'socket') throw new Error('not a socket unit');
  return r.unit;
}

const read = (fd: number, t: { level: number; optname: number }): number => getSocketOption(fd, t.level, t.optname);

describe('[Socket] options reach the socket', () => {
  it('stream and datagram: NoDelay, KeepAlive*, DeferAcceptSec (rounded up), Timestamping=ns, IPTTL', async () => {
    const log = testLogger();
    const u = unit(
      [
        `ListenStream=${await loopback()}`,
        `ListenDatagram=${await loopback()}`,
        'NoDelay=yes',
        'KeepAlive=yes',
        'KeepAliveTimeSec=90',
        'KeepAliveIntervalSec=1500ms',
        'DeferAcceptSec=1500ms',
        'Timestamping=nsec',
        'IPTTL=33',
      ].join('\n'),
    );
    ports = openPorts(u, native, log);
    const [stream, dgram] = ports;
    if (!stream || !dgram) throw new Error('two ports expected');
    expect(read(stream.fd, SOCKOPT.TCP_NODELAY)).toBe(1);
    expect(read(stream.fd, SOCKOPT.SO_KEEPALIVE)).toBe(1);
    expect(read(stream.fd, SOCKOPT.TCP_KEEPIDLE)).toBe(90);
    expect(read(stream.fd, SOCKOPT.TCP_KEEPINTVL)).toBe(1);
    expect(read(stream.fd, SOCKOPT.TCP_DEFER_ACCEPT)).toBeGreaterThan(0);
    expect(read(stream.fd, SOCKOPT.SO_TIMESTAMPNS)).toBe(1);
    expect(read(dgram.fd, SOCKOPT.SO_TIMESTAMPNS)).toBe(1);
    expect(read(dgram.fd, SOCKOPT.SO_TIMESTAMP)).toBe(0);
    expect(read(stream.fd, SOCKOPT.IP_TTL)).toBe(33);
    expect(read(dgram.fd, SOCKOPT.IP_TTL)).toBe(33);
    // TCP options on the UDP socket are refused by the kernel: warnings, as systemd logs them.
    expect(log.warnings.filter((w) => w.includes('NoDelay failed'))).toHaveLength(1);
  });

  it('MPTCP: Timestamping= and NoDelay= are taken; IPTTL= is a warning (EOPNOTSUPP)', async (ctx) => {
    need(ctx, mptcp);
    const log = testLogger();
    const at = await loopback();
    ports = openPorts(
      unit(`ListenStream=${at}\nSocketProtocol=mptcp\nNoDelay=yes\nTimestamping=us\nIPTTL=10`),
      native,
      log,
    );
    const [p] = ports;
    if (!p) throw new Error('one port expected');
    expect(p.protocol).toBe(IPPROTO_MPTCP);
    expect(read(p.fd, SOCKOPT.TCP_NODELAY)).toBe(1);
    expect(log.warnings).toEqual([
      `opts.socket: IPTTL failed on ${at}, ignoring: IPTTL: setsockopt failed: EOPNOTSUPP (Operation not supported)`,
    ]);
  });
});
