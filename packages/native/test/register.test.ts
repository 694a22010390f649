/**
 * `--import @mptcp/native/register` with unmodified apps and real peers: curl, `mptcpize run curl`
 * (Debian's mptcpize, an LD_PRELOAD that makes curl's socket() MPTCP), Python MPTCP sockets.
 * The apps and clients are fixtures run with node; they never import @mptcp/native themselves.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { missing, probes, type Probe } from './helpers/capability.js';
import { dist, have, mptcpListeners, registerFixture, run, start, type Proc } from './helpers/proc.js';
import { selfSignedCert, type SelfSigned } from './helpers/tls.js';

const tool =
  (cmd: string): Probe =>
  () =>
    have(cmd) ? undefined : `${cmd} is not installed (apt-get install ${cmd === 'mptcpize' ? 'mptcpize' : cmd})`;

const skip = missing(probes.mptcp, tool('curl'), tool('mptcpize'), tool('python3'), tool('openssl'), tool('ss'));
const REGISTER = dist('register.js');

const procs: Proc[] = [];
afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => p.stop()));
});

async function app(
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ proc: Proc; ports: number[] }> {
  const proc = start(process.execPath, [...args, registerFixture(file)], env);
  procs.push(proc);
  const line = await proc.line(/^LISTENING/);
  return { proc, ports: line.split(' ').slice(1).map(Number) };
}

/** A Python MPTCP client: GET / and TCP_IS_MPTCP of its own socket. */
async function pythonGet(port: number): Promise<{ body: string; isMptcp: number }> {
  const code = `import socket,sys,json
s=socket.socket(socket.AF_INET,socket.SOCK_STREAM,262)
s.connect(('127.0.0.1',int(sys.argv[1])))
s.sendall(b'GET /python HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n')
m=s.getsockopt(socket.IPPROTO_TCP,43)
b=b''
while True:
  d=s.recv(65536)
  if not d: break
  b+=d
print(json.dumps({'body': b.split(b'\\r\\n\\r\\n',1)[1].decode(), 'isMptcp': m}))`;
  return JSON.parse((await run('python3', ['-c', code, String(port)])).stdout) as { body: string; isMptcp: number };
}

describe.skipIf(skip)('register: an unmodified http.createServer().listen()', () => {
  it.each([
    ['--import', ['--import', REGISTER], {}],
    ['NODE_OPTIONS', [], { NODE_OPTIONS: `--import=${REGISTER}` }],
  ] as const)(
    '%s: ss -M lists it; curl, mptcpize run curl and a Python MPTCP client get answers',
    async (_how, args, env) => {
      const { ports } = await app('http-app.mjs', [...args], env);
      const port = ports[0] as number;
      expect(mptcpListeners()).toContain(port);
      expect((await run('curl', ['-sS', `http://127.0.0.1:${port}/curl`])).stdout).toBe('hello /curl\n');
      expect((await run('mptcpize', ['run', 'curl', '-sS', `http://127.0.0.1:${port}/mptcpize`])).stdout).toBe(
        'hello /mptcpize\n',
      );
      expect(await pythonGet(port)).toEqual({ body: 'hello /python\n', isMptcp: 1 });
    },
  );

  it('mptcpize run curl really dials MPTCP: a Python MPTCP server sees SO_PROTOCOL 262 (and plain curl 6)', async () => {
    const server = start('python3', [registerFixture('proto-http-server.py')]);
    procs.push(server);
    const port = Number((await server.line(/^LISTENING/)).split(' ')[1]);
    expect((await run('mptcpize', ['run', 'curl', '-sS', `http://127.0.0.1:${port}/`])).stdout).toBe('262 1');
    expect((await run('curl', ['-sS', `http://127.0.0.1:${port}/`])).stdout).toBe('6 0');
  });

  it('NODE_MPTCP=3 (dialers only) and 0 leave the listener plain TCP; curl still works', async () => {
    for (const value of ['3', '0']) {
      const { ports, proc } = await app('http-app.mjs', ['--import', REGISTER], { NODE_MPTCP: value });
      const port = ports[0] as number;
      expect(mptcpListeners()).not.toContain(port);
      expect((await run('curl', ['-sS', `http://127.0.0.1:${port}/tcp`])).stdout).toBe('hello /tcp\n');
      expect(await pythonGet(port)).toEqual({ body: 'hello /python\n', isMptcp: 0 });
      await proc.stop();
    }
  });

  it('adopts a socket passed in LISTEN_FDS bound to the address it listens on (no second bind)', async () => {
    // The parent opens an MPTCP listener and keeps it open (a second bind would be EADDRINUSE);
    // the app gets it as fd 3 with LISTEN_FDS=1 and LISTEN_PID = its own pid (sh execs node).
    const { openSocket, close } = (await import(dist('index.js'))) as typeof import('../src/index.js');
    const held = openSocket({
      kind: 'stream',
      mptcp: 'require',
      address: { family: 'inet', address: '127.0.0.1', port: 0 },
    });
    const port = held.local.family === 'inet' ? held.local.port : 0;
    let proc: Proc;
    try {
      proc = start(
        'sh',
        [
          '-c',
          `LISTEN_PID=$$ LISTEN_FDS=1 exec "${process.execPath}" --import "${REGISTER}" "${registerFixture('http-app.mjs')}"`,
        ],
        { PORT: String(port) },
        [held.fd],
      );
      procs.push(proc);
      expect((await proc.line(/^LISTENING/)).split(' ').slice(1)).toEqual([String(port), '3']);
    } finally {
      close(held.fd);
    }
    expect(mptcpListeners()).toContain(port);
    expect((await run('mptcpize', ['run', 'curl', '-sS', `http://127.0.0.1:${port}/adopted`])).stdout).toBe(
      'hello /adopted\n',
    );
  });
});

describe.skipIf(skip)('register: https and http2 over MPTCP (certificate made now with openssl)', () => {
  let tls: SelfSigned;
  beforeAll(() => {
    tls = selfSignedCert('mptcp-tls-');
  });
  afterAll(() => tls.remove());

  it('https, h2c and h2 servers are MPTCP listeners; mptcpize run curl gets answers over HTTP/1.1 and HTTP/2', async () => {
    const { ports } = await app('tls-apps.mjs', ['--import', REGISTER], {
      KEY: tls.key,
      CERT: tls.cert,
    });
    const [httpsPort, h2cPort, h2Port] = ports as [number, number, number];
    const listeners = mptcpListeners();
    for (const p of ports) expect(listeners).toContain(p);
    const curl = (...a: string[]): Promise<string> =>
      run('mptcpize', ['run', 'curl', '-sS', ...a]).then((r) => r.stdout);
    expect(await curl('-k', `https://127.0.0.1:${httpsPort}/x`)).toBe('https /x\n');
    expect(await curl('--http2-prior-knowledge', `http://127.0.0.1:${h2cPort}/`)).toBe('h2c 2.0\n');
    expect(await curl('-k', '--http2', `https://127.0.0.1:${h2Port}/`)).toBe('h2 2.0\n');
  });
});

describe.skipIf(skip)('register: global fetch and undici over MPTCP (the server sees SO_PROTOCOL 262)', () => {
  let server: Proc | undefined;
  let url = '';
  beforeAll(async () => {
    server = start('python3', [registerFixture('proto-http-server.py')]);
    url = `http://127.0.0.1:${(await server.line(/^LISTENING/)).split(' ')[1]}/`;
  });
  afterAll(async () => server?.stop());

  const client = async (name: string, args: string[], env: NodeJS.ProcessEnv): Promise<string[]> =>
    JSON.parse(
      (
        await run(process.execPath, [...args, registerFixture('fetch-client.mjs')], {
          URL: url,
          CLIENT: name,
          NATIVE_DIST: dist('index.js'),
          NATIVE_UNDICI: dist('undici.js'),
          ...env,
        })
      ).stdout,
    ) as string[];

  it.each([
    ['fetch', '1'],
    ['fetch', '3'],
    ['http.get', '1'],
  ])('%s with NODE_MPTCP=%s under --import register: MPTCP, keep-alive reused', async (name, value) => {
    expect(await client(name, ['--import', REGISTER], { NODE_MPTCP: value })).toEqual(['262 1', '262 1']);
  });

  it('fetch without register, or with NODE_MPTCP=2 (listeners only): plain TCP (the control)', async () => {
    expect(await client('fetch', [], {})).toEqual(['6 0', '6 0']);
    expect(await client('fetch', ['--import', REGISTER], { NODE_MPTCP: '2' })).toEqual(['6 0', '6 0']);
  });

  it('explicit API without the hook: undici MptcpAgent and MptcpHttpAgent', async () => {
    expect(await client('undici', [], {})).toEqual(['262 1', '262 1']);
    expect(await client('MptcpHttpAgent', [], {})).toEqual(['262 1', '262 1']);
  });
});

describe.skipIf(skip)(
  'register: https fetch over MPTCP to a Python TLS server (localhost: Happy Eyeballs over ::1 and 127.0.0.1)',
  () => {
    let server: Proc | undefined;
    let tls: SelfSigned;
    let url = '';
    beforeAll(async () => {
      tls = selfSignedCert('mptcp-tls-', 'DNS:localhost');
      server = start('python3', [registerFixture('proto-http-server.py'), tls.cert, tls.key]);
      url = `https://localhost:${(await server.line(/^LISTENING/)).split(' ')[1]}/`;
    });
    afterAll(async () => {
      await server?.stop();
      tls.remove();
    });

    it.each(['fetch', 'https.get', 'MptcpHttpsAgent'])('%s: TLS over MPTCP, certificate verified', async (name) => {
      const args = name === 'MptcpHttpsAgent' ? [] : ['--import', REGISTER];
      const out = await run(process.execPath, [...args, registerFixture('fetch-client.mjs')], {
        URL: url,
        CLIENT: name,
        NATIVE_DIST: dist('index.js'),
        NODE_MPTCP: '1',
        NODE_EXTRA_CA_CERTS: tls.cert,
      });
      expect(JSON.parse(out.stdout)).toEqual(['262 1', '262 1']);
    });
  },
);
