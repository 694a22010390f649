import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  IPPROTO_MPTCP,
  IPPROTO_SCTP,
  IPPROTO_UDPLITE,
  IP_PROTOCOL_NAMES,
  ipProtocolName,
  parseIpProtocol,
  parseSocketProtocol,
} from '../src/index.js';

interface Vector {
  kind: string;
  input: string;
  expected: { ok: boolean; protocol?: number; error?: string };
}
const vectors = (
  JSON.parse(readFileSync(new URL('./fixtures/socket-protocol.json', import.meta.url), 'utf8')) as { vectors: Vector[] }
).vectors;

describe('SocketProtocol= (shared vectors)', () => {
  it.each(vectors.map((v) => [v.kind, v.input, v] as const))('%s %j', (kind, input, v) => {
    const r = parseSocketProtocol(input, kind.includes('<= 256') ? 256 : 257);
    expect(r.ok).toBe(v.expected.ok);
    if (v.expected.ok) expect(r).toEqual({ ok: true, protocol: v.expected.protocol });
    else if (v.expected.error) expect(r).toEqual({ ok: false, error: v.expected.error });
  });
});

describe('protocol names', () => {
  it('knows mptcp, sctp and udplite in any case', () => {
    expect(parseSocketProtocol('mPtCp')).toEqual({ ok: true, protocol: IPPROTO_MPTCP });
    expect(parseSocketProtocol('UDPLITE')).toEqual({ ok: true, protocol: IPPROTO_UDPLITE });
    expect(parseSocketProtocol('Sctp')).toEqual({ ok: true, protocol: IPPROTO_SCTP });
  });
  it('an unknown name is EINVAL, a known but disallowed one EPROTONOSUPPORT', () => {
    expect(parseSocketProtocol('quic')).toEqual({ ok: false, error: 'EINVAL' });
    expect(parseSocketProtocol('gre')).toEqual({ ok: false, error: 'EPROTONOSUPPORT' });
    expect(parseSocketProtocol('constructor')).toEqual({ ok: false, error: 'EINVAL' });
  });
  it('numbers use strtol base 0 and reject overflow', () => {
    expect(parseIpProtocol('0x106')).toEqual({ ok: true, protocol: 262 });
    expect(parseIpProtocol('0406')).toEqual({ ok: true, protocol: 262 });
    expect(parseIpProtocol('0o406')).toEqual({ ok: true, protocol: 262 });
    expect(parseIpProtocol('0b100000110')).toEqual({ ok: true, protocol: 262 });
    expect(parseIpProtocol('0o8')).toEqual({ ok: false, error: 'EINVAL' });
    expect(parseIpProtocol('99999999999')).toEqual({ ok: false, error: 'ERANGE' });
    expect(parseIpProtocol('26x')).toEqual({ ok: false, error: 'EINVAL' });
  });
  it('systemd 256 rules refuse mptcp but keep sctp', () => {
    expect(parseSocketProtocol('mptcp', 256)).toEqual({ ok: false, error: 'EPROTONOSUPPORT' });
    expect(parseSocketProtocol('132', 256)).toEqual({ ok: true, protocol: 132 });
  });
  it('the name table round-trips', () => {
    for (const [name, value] of Object.entries(IP_PROTOCOL_NAMES)) expect(ipProtocolName(value)).toBe(name);
    expect(ipProtocolName(9999)).toBeUndefined();
  });
  // /etc/protocols is IANA's list and differs from <netinet/in.h> for a few legacy names (ipip is
  // 94 there, IPPROTO_IPIP = 4 in glibc); systemd's table comes from the header, so only the
  // protocols socket units deal with are compared.
  it('/etc/protocols agrees for the protocols socket units use', () => {
    let text = '';
    try {
      text = readFileSync('/etc/protocols', 'utf8');
    } catch {
      console.warn('no /etc/protocols on this machine');
      return;
    }
    let checked = 0;
    for (const line of text.split('\n')) {
      const [name, num] = line.replace(/#.*/, '').trim().split(/\s+/);
      if (!name || !num || !['tcp', 'udp', 'sctp', 'udplite', 'mptcp'].includes(name)) continue;
      const ours = IP_PROTOCOL_NAMES[name];
      if (ours !== undefined && Object.prototype.hasOwnProperty.call(IP_PROTOCOL_NAMES, name)) {
        expect(ours, name).toBe(Number(num));
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(4);
  });
});
