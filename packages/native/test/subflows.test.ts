/** subflows() around a close: never a garbage subflow, never EBADF once the peer has gone. */
import type * as net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { connect, listen, mptcpInfo, subflows, type SubflowInfo } from '../src/index.js';
import { missing, probes } from './helpers/capability.js';
import { closeServer, connected, listening } from './helpers/net.js';

const noMptcp = missing(probes.mptcp);
const servers: net.Server[] = [];
afterAll(async () => Promise.all(servers.map(closeServer)));

/** Every reported subflow is a real path: inet addresses with ports on both ends. */
function sane(flows: SubflowInfo[]): boolean {
  // Type-level check too: local/remote are inet addresses, so .address and .port exist.
  return flows.every(
    (f) => f.local.port > 0 && f.remote.port > 0 && f.remote.address !== '0.0.0.0' && f.remote.address !== '::',
  );
}

describe.skipIf(noMptcp)('subflows() while connections close', () => {
  it('200 connections closed by the peer: sane subflows at every step, [] and null after close', async () => {
    const seen: { during: boolean[]; afterClose: Array<[number, MptcpInfoNull]> } = { during: [], afterClose: [] };
    type MptcpInfoNull = ReturnType<typeof mptcpInfo>;
    let closed = 0;
    let done: () => void = () => {};
    const all = new Promise<void>((resolve) => (done = resolve));
    const N = 200;
    const server = listen({ host: '127.0.0.1', port: 0, mptcp: 'require' }, (s) => {
      seen.during.push(sane(subflows(s)));
      s.on('end', () => {
        seen.during.push(sane(subflows(s)));
        s.end();
      });
      s.on('close', () => {
        seen.afterClose.push([subflows(s).length, mptcpInfo(s)]);
        if (++closed === N) done();
      });
      s.resume();
    });
    servers.push(server);
    const port = await listening(server);
    for (let i = 0; i < N; i++) {
      const c = connect({ host: '127.0.0.1', port, mptcp: 'require' });
      await connected(c);
      expect(sane(subflows(c))).toBe(true);
      c.end();
      c.resume();
      await new Promise((resolve) => c.once('close', resolve));
      expect(subflows(c)).toEqual([]); // destroyed: no fd, no EBADF
      expect(mptcpInfo(c)).toBeNull();
    }
    await all;
    expect(seen.during.every(Boolean)).toBe(true);
    expect(seen.afterClose.every(([n, info]) => n === 0 && info === null)).toBe(true);
  });
});
