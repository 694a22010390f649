import { describe, expect, it } from 'vitest';
import {
  connectionInstance,
  instanceServiceName,
  remoteEnvironment,
  sourceKey,
  templateNameFor,
  templatePrefix,
} from '../src/instance-name.js';
import { ConnectionLimits } from '../src/connection-limits.js';

describe('Accept=yes instance names (systemd 257 instance_from_socket)', () => {
  it('IPv4: N-LOCAL:PORT-REMOTE:PORT', () => {
    const i = connectionInstance(
      0,
      { family: 'inet', address: '127.0.0.1', port: 80 },
      { family: 'inet', address: '127.0.0.1', port: 5000 },
    );
    expect(i).toBe('0-127.0.0.1:80-127.0.0.1:5000');
    expect(instanceServiceName('echo.socket', i)).toBe('echo@0-127.0.0.1:80-127.0.0.1:5000.service');
  });
  it('IPv6 without brackets; v4-mapped on both ends uses the IPv4 form', () => {
    expect(
      connectionInstance(
        3,
        { family: 'inet6', address: '::1', port: 8080 },
        { family: 'inet6', address: '::1', port: 41000 },
      ),
    ).toBe('3-::1:8080-::1:41000');
    expect(
      connectionInstance(
        7,
        { family: 'inet6', address: '::ffff:127.0.0.1', port: 80 },
        { family: 'inet6', address: '::ffff:10.0.0.2', port: 9 },
      ),
    ).toBe('7-127.0.0.1:80-10.0.0.2:9');
    expect(
      connectionInstance(
        7,
        { family: 'inet6', address: '::ffff:127.0.0.1', port: 80 },
        { family: 'inet6', address: '::1', port: 9 },
      ),
    ).toBe('7-::ffff:127.0.0.1:80-::1:9');
  });
  it('AF_UNIX: N-PID-UID, or N-unknown without credentials', () => {
    const local = { family: 'unix' as const, path: '/run/x.sock', abstract: false };
    const remote = { family: 'unix' as const, path: '', abstract: false };
    expect(connectionInstance(1, local, remote, { pid: 42, uid: 1000, gid: 1000 })).toBe('1-42-1000');
    expect(connectionInstance(1, local, remote, null)).toBe('1-unknown');
  });
  it('template names strip suffix and instance', () => {
    expect(templateNameFor('echo.socket')).toBe('echo@.service');
    expect(templateNameFor('echo@v6.socket')).toBe('echo@.service');
    expect(templatePrefix('a.b.socket')).toBe('a.b');
  });
  it('REMOTE_ADDR/REMOTE_PORT as systemd prints them', () => {
    expect(remoteEnvironment({ family: 'inet6', address: '::ffff:192.0.2.1', port: 1234 })).toEqual({
      REMOTE_ADDR: '192.0.2.1',
      REMOTE_PORT: '1234',
    });
    expect(remoteEnvironment({ family: 'inet6', address: 'fe80::1', port: 1, scopeId: 1 })).toEqual({
      REMOTE_ADDR: 'fe80::1%lo',
      REMOTE_PORT: '1',
    });
    expect(remoteEnvironment({ family: 'unix', path: '', abstract: false })).toEqual({});
    expect(remoteEnvironment({ family: 'unix', path: 'peer', abstract: true })).toEqual({ REMOTE_ADDR: '@peer' });
    expect(sourceKey({ family: 'inet6', address: '::ffff:192.0.2.1', port: 1 })).toBe('192.0.2.1');
  });
});

describe('MaxConnections= / MaxConnectionsPerSource=', () => {
  it("refuses with systemd's messages and releases once", () => {
    const l = new ConnectionLimits(2, 1);
    const a = l.admit('10.0.0.1', '10.0.0.1');
    expect(a.ok).toBe(true);
    const b = l.admit('10.0.0.1', '10.0.0.1');
    expect(b).toMatchObject({
      ok: false,
      reason: 'max-connections-per-source',
      message: 'Too many incoming connections (2) from source 10.0.0.1, dropping connection.',
    });
    const c = l.admit('10.0.0.2', '10.0.0.2');
    expect(c.ok).toBe(true);
    expect(l.admit('10.0.0.3', '10.0.0.3')).toMatchObject({
      ok: false,
      reason: 'max-connections',
      message: 'Too many incoming connections (2), dropping connection.',
    });
    if (a.ok) {
      a.release();
      a.release();
    }
    expect(l.connections).toBe(1);
    expect(l.admit('10.0.0.1', '10.0.0.1').ok).toBe(true);
  });
});
