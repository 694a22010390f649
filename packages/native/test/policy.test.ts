import type * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { IPPROTO_MPTCP } from '@mptcp/constants';
import {
  close,
  connect,
  effectiveMode,
  fallbackReason,
  listen,
  mptcpStatus,
  mptcpSupport,
  nodeMptcp,
  openSocket,
  socketProtocol,
  type MptcpMode,
  type OpenSocketSpec,
} from '../src/index.js';
import { missing, probes } from './helpers/capability.js';
import { closeServer, codeOf, connected, listening } from './helpers/net.js';

const noMptcp = missing(probes.mptcp);

describe('NODE_MPTCP', () => {
  const env = (v: string | undefined): NodeJS.ProcessEnv => (v === undefined ? {} : { NODE_MPTCP: v });

  it.each([
    // value, listener default, dialer default
    [undefined, 'prefer', false],
    ['2', 'prefer', false],
    ['1', 'prefer', 'prefer'],
    ['3', false, 'prefer'],
    ['0', false, false],
  ] as const)('NODE_MPTCP=%s: listeners %s, dialers %s by default', (value, listener, dialer) => {
    expect(effectiveMode('listener', undefined, env(value))).toBe(listener);
    expect(effectiveMode('dialer', undefined, env(value))).toBe(dialer);
  });

  it.each(['1', '2', '3', undefined])('NODE_MPTCP=%s never overrides an explicit mode', (value) => {
    for (const mode of ['require', 'prefer', false] as MptcpMode[]) {
      expect(effectiveMode('listener', mode, env(value))).toBe(mode);
      expect(effectiveMode('dialer', mode, env(value))).toBe(mode);
    }
  });

  it("NODE_MPTCP=0 turns 'prefer' into TCP and makes 'require' fail with MPTCP_DISABLED_BY_ENV", () => {
    expect(effectiveMode('dialer', 'prefer', env('0'))).toBe(false);
    expect(effectiveMode('listener', false, env('0'))).toBe(false);
    expect(() => effectiveMode('listener', 'require', env('0'))).toThrow(
      expect.objectContaining({ code: 'MPTCP_DISABLED_BY_ENV' }),
    );
  });

  it('an invalid value behaves as 2', () => {
    expect(nodeMptcp(env('yes'))).toBe('2');
    expect(nodeMptcp(env(''))).toBe('2');
  });
});

describe('fallback policy', () => {
  it('falls back on exactly ENOPROTOOPT, EPROTONOSUPPORT, EINVAL', () => {
    expect(fallbackReason('ENOPROTOOPT')).toBe('disabled-by-sysctl');
    expect(fallbackReason('EPROTONOSUPPORT')).toBe('kernel-without-mptcp');
    expect(fallbackReason('EINVAL')).toBe('kernel-without-mptcp');
    for (const code of ['EACCES', 'EPERM', 'ECONNREFUSED', 'ETIMEDOUT', 'EMFILE'])
      expect(fallbackReason(code)).toBeUndefined();
  });
});

describe.skipIf(noMptcp)('NODE_MPTCP on real sockets', () => {
  const saved = process.env['NODE_MPTCP'];
  const servers: net.Server[] = [];
  afterEach(async () => {
    if (saved === undefined) delete process.env['NODE_MPTCP'];
    else process.env['NODE_MPTCP'] = saved;
    await Promise.all(servers.splice(0).map(closeServer));
  });

  async function protocols(): Promise<{ server: number; client: number }> {
    const server = listen({ host: '127.0.0.1', port: 0 });
    servers.push(server);
    const port = await listening(server);
    const client = connect({ host: '127.0.0.1', port });
    await connected(client);
    const r = { server: mptcpStatus(server).protocol, client: mptcpStatus(client).protocol };
    client.destroy();
    return r;
  }

  // listen()/connect() are the explicit MPTCP API: 'prefer' by default, whatever NODE_MPTCP's role
  // defaults (those govern the register hook and openSocket({ role })), except the 0 kill switch.
  it.each([
    [undefined, IPPROTO_MPTCP, IPPROTO_MPTCP],
    ['1', IPPROTO_MPTCP, IPPROTO_MPTCP],
    ['2', IPPROTO_MPTCP, IPPROTO_MPTCP],
    ['3', IPPROTO_MPTCP, IPPROTO_MPTCP],
    ['0', 6, 6],
  ] as const)('NODE_MPTCP=%s: server protocol %d, client protocol %d', async (value, server, client) => {
    if (value === undefined) delete process.env['NODE_MPTCP'];
    else process.env['NODE_MPTCP'] = value;
    expect(await protocols()).toEqual({ server, client });
  });

  it("NODE_MPTCP=0: 'require' is an error event; mptcpSupport says disabled-by-env", async () => {
    process.env['NODE_MPTCP'] = '0';
    expect(mptcpSupport()).toEqual({ available: false, reason: 'disabled-by-env' });
    const c = connect({ host: '127.0.0.1', port: 9, mptcp: 'require' });
    const err = await new Promise((resolve) => c.once('error', resolve));
    expect(codeOf(err)).toBe('MPTCP_DISABLED_BY_ENV');
    const s = listen({ host: '127.0.0.1', port: 0, mptcp: 'require' });
    expect(codeOf(await new Promise((resolve) => s.once('error', resolve)))).toBe('MPTCP_DISABLED_BY_ENV');
    delete process.env['NODE_MPTCP'];
    expect(mptcpSupport({ refresh: true }).available).toBe(true);
  });
});

describe.skipIf(noMptcp)('openSocket: the one socket-creation policy', () => {
  const saved = process.env['NODE_MPTCP'];
  afterEach(() => {
    if (saved === undefined) delete process.env['NODE_MPTCP'];
    else process.env['NODE_MPTCP'] = saved;
  });
  const address = { family: 'inet', address: '127.0.0.1', port: 0 } as const;
  const open = (
    spec: Omit<OpenSocketSpec, 'kind' | 'address'>,
  ): { transport?: string; fallbackReason?: string; protocol: number } => {
    const s = openSocket({ kind: 'stream', address, ...spec });
    const kernel = socketProtocol(s.fd);
    close(s.fd);
    expect(kernel).toBe(s.protocol); // what it reports is what SO_PROTOCOL says
    return {
      protocol: s.protocol,
      ...(s.transport ? { transport: s.transport } : {}),
      ...(s.fallbackReason ? { fallbackReason: s.fallbackReason } : {}),
    };
  };

  it.each([
    // NODE_MPTCP, spec, result
    [undefined, { mptcp: 'prefer' }, { protocol: IPPROTO_MPTCP, transport: 'mptcp' }],
    [undefined, { mptcp: 'require' }, { protocol: IPPROTO_MPTCP, transport: 'mptcp' }],
    [undefined, { protocol: IPPROTO_MPTCP }, { protocol: IPPROTO_MPTCP, transport: 'mptcp' }],
    [undefined, { mptcp: 'off' }, { protocol: 6, transport: 'tcp' }],
    [undefined, {}, { protocol: 6, transport: 'tcp' }],
    [undefined, { role: 'listener' }, { protocol: IPPROTO_MPTCP, transport: 'mptcp' }],
    [undefined, { role: 'dialer' }, { protocol: 6, transport: 'tcp' }],
    ['3', { role: 'listener' }, { protocol: 6, transport: 'tcp' }],
    ['1', { role: 'dialer' }, { protocol: IPPROTO_MPTCP, transport: 'mptcp' }],
    ['0', { role: 'listener' }, { protocol: 6, transport: 'tcp' }],
    ['0', { mptcp: 'prefer' }, { protocol: 6, transport: 'tcp', fallbackReason: 'disabled-by-env' }],
    [
      '0',
      { mptcp: 'require', disabledByEnv: 'tcp' },
      { protocol: 6, transport: 'tcp', fallbackReason: 'disabled-by-env' },
    ],
    [
      '0',
      { protocol: IPPROTO_MPTCP, disabledByEnv: 'tcp' },
      { protocol: 6, transport: 'tcp', fallbackReason: 'disabled-by-env' },
    ],
  ] as const)('NODE_MPTCP=%s %j → %j', (value, spec, result) => {
    if (value === undefined) delete process.env['NODE_MPTCP'];
    else process.env['NODE_MPTCP'] = value;
    expect(open(spec)).toEqual(result);
  });

  it("NODE_MPTCP=0: 'require' (or protocol 262) without disabledByEnv: 'tcp' is MPTCP_DISABLED_BY_ENV", () => {
    process.env['NODE_MPTCP'] = '0';
    expect(() => openSocket({ kind: 'stream', address, mptcp: 'require' })).toThrow(
      expect.objectContaining({ code: 'MPTCP_DISABLED_BY_ENV' }),
    );
    expect(() => openSocket({ kind: 'stream', address, protocol: IPPROTO_MPTCP })).toThrow(
      expect.objectContaining({ code: 'MPTCP_DISABLED_BY_ENV' }),
    );
  });

  it('non-IP and non-stream sockets ignore the MPTCP mode', () => {
    const s = openSocket({ kind: 'datagram', address, mptcp: 'require' });
    expect(s.transport).toBeUndefined();
    expect(socketProtocol(s.fd)).toBe(17);
    close(s.fd);
  });
});
