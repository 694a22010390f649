/** connect()'s net.connect options: Happy Eyeballs over a lookup's addresses, signal, net-style idle timeout. */
import type * as net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { connect, listen, mptcpStatus, type LookupFunction } from '../src/index.js';
import { netCompatibleConnect } from '../src/client.js';
import { missing, probes } from './helpers/capability.js';
import { closeServer, codeOf, connected, listening } from './helpers/net.js';

const noMptcp = missing(probes.mptcp);
const servers: net.Server[] = [];
afterAll(async () => Promise.all(servers.map(closeServer)));

async function server(): Promise<number> {
  const s = listen({ host: '127.0.0.1', port: 0 }, (c) => c.end());
  servers.push(s);
  return listening(s);
}

// '::1' on the same port: nothing listens there (the server is IPv4 only), so it is refused at once.
const both: LookupFunction = (_host, options, cb) => {
  const all = [
    { address: '::1', family: 6 },
    { address: '127.0.0.1', family: 4 },
  ];
  if (options.all) cb(null, all);
  else cb(null, '::1', 6);
};

describe.skipIf(noMptcp)('connect() options', () => {
  it('autoSelectFamily: a refused first address, then the next one wins; the socket is MPTCP', async () => {
    const port = await server();
    const c = connect({ host: 'dual.test', port, lookup: both, autoSelectFamily: true });
    await connected(c);
    expect(c.remoteAddress).toBe('127.0.0.1');
    expect(mptcpStatus(c).protocol).toBe(262);
    c.destroy();
  });

  it('autoSelectFamily: false uses the first address only (as net)', async () => {
    const port = await server();
    const c = connect({ host: 'dual.test', port, lookup: both, autoSelectFamily: false });
    const err = await new Promise((resolve) => c.once('error', resolve));
    expect(codeOf(err)).toBe('ECONNREFUSED');
  });

  it('signal: aborting destroys the socket with an AbortError', async () => {
    const port = await server();
    const ac = new AbortController();
    ac.abort();
    const c = connect({ host: '127.0.0.1', port, signal: ac.signal });
    const err = (await new Promise((resolve) => c.once('error', resolve))) as Error;
    expect(err.name).toBe('AbortError');
    expect(c.destroyed).toBe(true);
  });

  it('net-compatible form: timeout is an idle timeout (socket.setTimeout), not a connect timeout', async () => {
    const port = await server();
    const c = netCompatibleConnect([{ host: '127.0.0.1', port, timeout: 60_000 }], 'prefer', () => {
      throw new Error('not the fallback');
    });
    await connected(c);
    expect(c.timeout).toBe(60_000);
    c.destroy();
  });
});
