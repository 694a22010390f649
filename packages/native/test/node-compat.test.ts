/**
 * connect()/listen()/createServer() behave as node:net where the adversarial audit found them apart:
 * listener exceptions, signal after connect, argument forms, port/host/mptcp validation, fd leaks.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../src/index.js';

const indexUrl = new URL('../dist/index.js', import.meta.url).href;

/** Runs `body` as an ES module in a fresh node with the built package imported as `m`; its stdout. */
function runChild(body: string, args: string[] = []): string {
  return execFileSync(
    process.execPath,
    [...args, '--input-type=module', '-e', `import * as m from ${JSON.stringify(indexUrl)};\n${body}`],
    { encoding: 'utf8', timeout: 60_000 },
  );
}

const openFds = (): number => readdirSync('/proc/self/fd').length;

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function tcpServer(): Promise<number> {
  const srv = net.createServer((s) => s.on('error', () => {}));
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  cleanups.push(() => srv.close());
  return (srv.address() as net.AddressInfo).port;
}

describe('connect()', () => {
  it("an exception thrown by a 'connect' listener reaches 'uncaughtException', as net", () => {
    const out = runChild(`
      import * as net from 'node:net';
      const srv = net.createServer((s) => s.on('error', () => {}).end()).listen(0, '127.0.0.1');
      srv.on('listening', () => {
        process.on('uncaughtException', (e) => { console.log('caught ' + e.message); c.destroy(); srv.close(); });
        const c = m.connect({ host: '127.0.0.1', port: srv.address().port }, () => { throw new Error('in listener'); });
        c.on('error', () => {});
      });
    `);
    expect(out.trim()).toBe('caught in listener');
  });

  it('aborting the signal after connect destroys the socket with an AbortError, as net', async () => {
    const port = await tcpServer();
    const ac = new AbortController();
    const c = connect({ host: '127.0.0.1', port, signal: ac.signal });
    await once(c, 'connect');
    const failed = once(c, 'error');
    ac.abort();
    const [err] = (await failed) as [Error & { code?: string }];
    expect(err.name).toBe('AbortError');
    expect(err.code).toBe('ABORT_ERR');
    expect(c.destroyed).toBe(true);
  });
});
