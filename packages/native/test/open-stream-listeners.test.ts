/**
 * openStreamListeners(): a daemon's listeners opened by one addon call must be what openSocket()
 * opens, one at a time: same protocol, transport, address, options; and from the first spec that
 * does not qualify or fails, every spec is left to openSocket() (so the outcome, errors included,
 * is that of opening them one by one, in order).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { IPPROTO_MPTCP } from '@mptcp/constants';
import {
  close,
  getSocketOption,
  openSocket,
  openStreamListeners,
  sysconst,
  type OpenSocketSpec,
} from '../src/index.js';
import { binding } from '../src/binding.js';
import type { SockAddr } from '../src/types.js';
import { missing, probes } from './helpers/capability.js';

const noMptcp = missing(probes.mptcp);
const fds: number[] = [];
afterEach(() => {
  for (const fd of fds.splice(0)) {
    try {
      close(fd);
    } catch {
      // already closed
    }
  }
});
const opt = (fd: number, level: string, name: string): number => getSocketOption(fd, sysconst(level), sysconst(name));
const portOf = (a: { local?: SockAddr | undefined } | undefined): number =>
  a?.local && 'port' in a.local ? a.local.port : 0;
const keep = <T extends { fd: number } | undefined>(o: T): T => {
  if (o) fds.push(o.fd);
  return o;
};

function listener(port: number, extra: Partial<OpenSocketSpec> = {}): OpenSocketSpec {
  return {
    kind: 'stream',
    address: { family: 'inet', address: '127.0.0.1', port },
    backlog: 64,
    nonBlocking: true,
    ...extra,
  };
}

describe('openStreamListeners', () => {
  it('the addon has the batched call (a build without it opens everything one by one)', () => {
    expect(typeof binding().openStreamListeners).toBe('function');
  });

  it('opens TCP listeners as openSocket() does: protocol, transport, port, options', () => {
    const specs = [listener(0, { noDelay: true, keepAlive: true }), listener(0, { reusePort: true })];
    const got = openStreamListeners(specs).map(keep);
    const one = specs.map((s) => keep(openSocket(s)));
    for (let i = 0; i < specs.length; i++) {
      const a = got[i];
      const b = one[i];
      expect(a).toBeDefined();
      if (!a || !b) continue;
      expect({ ...a, fd: 0, local: { ...a.local, port: 0 } }).toEqual({ ...b, fd: 0, local: { ...b.local, port: 0 } });
      expect(portOf(a)).toBeGreaterThan(0);
      for (const [level, name] of [
        ['SOL_SOCKET', 'SO_REUSEADDR'],
        ['SOL_SOCKET', 'SO_KEEPALIVE'],
        ['SOL_SOCKET', 'SO_REUSEPORT'],
        ['IPPROTO_TCP', 'TCP_NODELAY'],
        ['SOL_SOCKET', 'SO_ACCEPTCONN'],
      ] as const)
        expect([name, opt(a.fd, level, name)]).toEqual([name, opt(b.fd, level, name)]);
    }
  });

  it.skipIf(noMptcp)('opens MPTCP listeners (require and prefer) as openSocket() does', () => {
    const specs = [
      listener(0, { mptcp: 'require' }),
      listener(0, { protocol: IPPROTO_MPTCP }),
      listener(0, { mptcp: 'prefer' }),
    ];
    const got = openStreamListeners(specs).map(keep);
    const one = specs.map((s) => keep(openSocket(s)));
    for (let i = 0; i < specs.length; i++) {
      expect(got[i]?.transport).toBe('mptcp');
      expect(got[i]?.protocol).toBe(one[i]?.protocol);
      expect(opt(got[i]?.fd ?? -1, 'SOL_SOCKET', 'SO_PROTOCOL')).toBe(IPPROTO_MPTCP);
    }
  });

  it('the local address is what the kernel bound: a fixed IPv4 port (not read back), port 0 and IPv6 (read back)', () => {
    // A fixed port: take an ephemeral one, free it, and ask for it (another process could take it in
    // between: then the next candidate).
    let fixed: ReturnType<typeof openStreamListeners>[number];
    for (let attempt = 0; attempt < 5 && !fixed; attempt++) {
      const probe = openSocket(listener(0));
      const port = portOf(probe);
      close(probe.fd);
      fixed = keep(openStreamListeners([listener(port)])[0]);
    }
    expect(fixed).toBeDefined();
    const v6 = keep(
      openStreamListeners([listener(0, { address: { family: 'inet6', address: '0:0:0:0:0:0:0:1', port: 0 } })])[0],
    );
    for (const o of [fixed, v6]) {
      if (!o) continue;
      const kernel = binding().getsockname(o.fd);
      expect(typeof kernel).not.toBe('number');
      expect(o.local).toEqual(kernel);
      expect(o.protocol).toBe(opt(o.fd, 'SOL_SOCKET', 'SO_PROTOCOL'));
    }
    // The kernel's text for IPv6 (the spec's was not canonical).
    if (v6?.local?.family === 'inet6') expect(v6.local.address).toBe('::1');
  });

  it('stops at the first spec that fails: it and every later one are left to openSocket()', () => {
    const taken = keep(openSocket(listener(0)));
    const port = portOf(taken);
    const got = openStreamListeners([listener(0), listener(port), listener(0)]).map(keep);
    expect(got[0]?.fd).toBeGreaterThanOrEqual(0);
    expect(got[1]).toBeUndefined();
    expect(got[2]).toBeUndefined();
    // openSocket() then gives the error, as it would have without the batch.
    expect(() => openSocket(listener(port))).toThrow(/EADDRINUSE/);
  });

  it('stops at the first spec that does not qualify (AF_UNIX, a string option, a role default)', () => {
    for (const odd of [
      { kind: 'stream', address: { family: 'unix', path: '', abstract: true }, backlog: 8 } as OpenSocketSpec,
      listener(0, { bindToDevice: 'lo' }),
      listener(0, { role: 'listener' }),
      listener(0, { kind: 'datagram' }),
    ]) {
      const got = openStreamListeners([listener(0), odd, listener(0)]).map(keep);
      expect(got[0]).toBeDefined();
      expect(got[1]).toBeUndefined();
      expect(got[2]).toBeUndefined();
    }
  });
});
