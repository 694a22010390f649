/**
 * NODE_MPTCP is read once per socket (createSocket() used to read it twice) and still on every
 * socket: a program (or a test) that changes it between two openSocket() calls gets the new value.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { IPPROTO_MPTCP } from '@mptcp/constants';
import { close, openSocket, type OpenSocketSpec } from '../src/index.js';
import { missing, probes } from './helpers/capability.js';

const noMptcp = missing(probes.mptcp);

describe.skipIf(noMptcp)('NODE_MPTCP reads', () => {
  const saved = process.env;
  afterEach(() => {
    process.env = saved;
  });

  /** process.env replaced by a copy that counts the reads of NODE_MPTCP. */
  function countingEnv(value: string | undefined): { env: NodeJS.ProcessEnv; reads: () => number } {
    let reads = 0;
    const copy: NodeJS.ProcessEnv = { ...saved };
    if (value === undefined) delete copy['NODE_MPTCP'];
    else copy['NODE_MPTCP'] = value;
    const env = new Proxy(copy, {
      get(target, key, receiver) {
        if (key === 'NODE_MPTCP') reads++;
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
    process.env = env;
    return { env, reads: () => reads };
  }

  const open = (spec: Omit<OpenSocketSpec, 'kind' | 'address'>): number => {
    const s = openSocket({ kind: 'stream', address: { family: 'inet', address: '127.0.0.1', port: 0 }, ...spec });
    close(s.fd);
    return s.protocol;
  };

  it.each([
    [undefined, { role: 'listener' }],
    ['0', { mptcp: 'require', disabledByEnv: 'tcp' }],
    ['3', { role: 'listener' }],
    [undefined, { mptcp: 'prefer' }],
  ] as const)('NODE_MPTCP=%s %j: one read per socket', (value, spec) => {
    const { reads } = countingEnv(value);
    open(spec);
    expect(reads()).toBe(1);
    open(spec);
    expect(reads()).toBe(2);
  });

  it('a change between two sockets applies to the next one', () => {
    const { env } = countingEnv(undefined);
    expect(open({ role: 'listener' })).toBe(IPPROTO_MPTCP);
    env['NODE_MPTCP'] = '0';
    expect(open({ role: 'listener' })).toBe(6);
    env['NODE_MPTCP'] = '1';
    expect(open({ role: 'dialer' })).toBe(IPPROTO_MPTCP);
    delete env['NODE_MPTCP'];
    expect(open({ role: 'dialer' })).toBe(6);
  });
});
