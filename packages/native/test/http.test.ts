/** The explicit HTTP helpers without the hook: node's own http2 client over our MPTCP connections. */
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import type * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, connectTls, createHttp2Server, createSecureHttp2Server, isMptcp, mptcpStatus } from '../src/index.js';
import { missing, probes } from './helpers/capability.js';
import { closeServer, listening } from './helpers/net.js';
import { have } from './helpers/proc.js';
import { selfSignedCert, type SelfSigned } from './helpers/tls.js';

const skip = missing(probes.mptcp, () => (have('openssl') ? undefined : 'openssl is not installed'));

function get(session: http2.ClientHttp2Session): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':path': '/' });
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => resolve(body));
    req.on('error', reject);
    req.end();
  });
}

describe.skipIf(skip)('http2 over MPTCP with the explicit helpers', () => {
  let tls: SelfSigned;
  const servers: net.Server[] = [];
  beforeAll(() => {
    tls = selfSignedCert('mptcp-h2-');
  });
  afterAll(async () => {
    await Promise.all(servers.map(closeServer));
    tls.remove();
  });

  it('createHttp2Server (h2c) + http2.connect over connect(): both ends MPTCP', async () => {
    const server = createHttp2Server({}, (req, res) =>
      res.end(`h2c ${req.httpVersion} ${isMptcp(req.socket as unknown as net.Socket)}`),
    );
    servers.push(server);
    const port = await listening(server.listen(0, '127.0.0.1'));
    expect(mptcpStatus(server).protocol).toBe(262);
    let socket: net.Socket | undefined;
    const session = http2.connect(`http://127.0.0.1:${port}`, {
      createConnection: () => (socket = connect({ host: '127.0.0.1', port })),
    });
    expect(await get(session)).toBe('h2c 2.0 true');
    expect(isMptcp(socket as net.Socket)).toBe(true);
    session.close();
  });

  it('createSecureHttp2Server + connectTls (ALPN h2): TLS and HTTP/2 over MPTCP', async () => {
    const server = createSecureHttp2Server({ key: readFileSync(tls.key), cert: readFileSync(tls.cert) }, (req, res) =>
      res.end(`h2 ${req.httpVersion} ${isMptcp(req.socket as unknown as net.Socket)}`),
    );
    servers.push(server);
    const port = await listening(server.listen(0, '127.0.0.1'));
    const session = http2.connect(`https://localhost:${port}`, {
      createConnection: () =>
        connectTls({
          host: '127.0.0.1',
          port,
          servername: 'localhost',
          ALPNProtocols: ['h2'],
          ca: readFileSync(tls.cert),
        }),
    });
    expect(await get(session)).toBe('h2 2.0 true');
    session.close();
  });
});
