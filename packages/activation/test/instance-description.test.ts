/**
 * An Accept=yes instance's description as systemd 257's service_set_socket_fd() sets it: the
 * template's with the peer, `DESCRIPTION (PEER)`, or the peer alone (recorded: fixtures/v257/status
 * `inst@… - Accepted connection (127.0.0.1:44556)`, `instinst@… - 127.0.0.1:38400`; trigger-deps
 * `Dependency failed for tyf@… - 127.0.0.1:PORT.`).
 */
import { parseUnitText, type ServiceUnit } from '@mptcp/unit';
import { describe, expect, it } from 'vitest';
import { ownDescription, withPeerDescription } from '../src/instance-name.js';

const service = (name: string, text: string): ServiceUnit => {
  const r = parseUnitText(text, { file: `/x/${name}`, executables: false });
  if (r.unit?.kind !== 'service') throw new Error(`${name} did not parse`);
  return r.unit;
};

describe('Accept=yes instance descriptions (257 service_set_socket_fd())', () => {
  it('the template has one: DESCRIPTION (PEER); its own stays known', () => {
    const u = service(
      'inst@0-127.0.0.1:8715-127.0.0.1:44556.service',
      '[Unit]\nDescription=Accepted connection\n[Service]\nExecStart=/bin/true\n',
    );
    const d = withPeerDescription(u);
    expect(d.unit.description).toBe('Accepted connection (127.0.0.1:44556)');
    expect(ownDescription(d)).toBe('Accepted connection');
    expect(u.unit.description).toBe('Accepted connection');
    expect(withPeerDescription(d)).toBe(d);
  });

  it('none: the peer alone (IPv6 in brackets, AF_UNIX as PID/UID)', () => {
    const body = '[Service]\nExecStart=/bin/true\n';
    expect(withPeerDescription(service('i@0-127.0.0.1:8716-127.0.0.1:38400.service', body)).unit.description).toBe(
      '127.0.0.1:38400',
    );
    expect(withPeerDescription(service('i@1-::1:80-::1:4000.service', body)).unit.description).toBe('[::1]:4000');
    expect(withPeerDescription(service('i@2-120-0.service', body)).unit.description).toBe('PID 120/UID 0');
  });

  it('not a connection instance: unchanged', () => {
    const u = service('tp@x.service', '[Unit]\nDescription=Template x\n[Service]\nExecStart=/bin/true\n');
    expect(withPeerDescription(u)).toBe(u);
  });
});
