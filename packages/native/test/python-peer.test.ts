import { execFile, execFileSync } from 'node:child_process';
import type * as net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { IPPROTO_MPTCP } from '@mptcp/constants';
import { connect, isMptcp, listen, mptcpStatus } from '../src/index.js';
import { missing, probes, type Probe } from './helpers/capability.js';
import { closeServer, connected, listening, roundTrip } from './helpers/net.js';

const python: Probe = () => {
  try {
    execFileSync('python3', ['-c', 'import socket'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'python3 not available';
  }
};

// An independent MPTCP peer: Python's socket module with IPPROTO_MPTCP (262) and TCP_IS_MPTCP (43).
const noPeer = missing(probes.mptcp, python);
const servers: net.Server[] = [];
afterAll(async () => Promise.all(servers.map(closeServer)));

function py(code: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('python3', ['-c', code, ...args], { timeout: 10_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
    );
  });
}

describe.skipIf(noPeer)('independent peer (Python IPPROTO_MPTCP)', () => {
  it('Python MPTCP client → our server: both sides see MPTCP', async () => {
    const seen: Array<{ protocol: number; active: boolean }> = [];
    const server = listen({ host: '127.0.0.1', port: 0, mptcp: 'require' }, (s) => {
      seen.push(mptcpStatus(s));
      s.pipe(s);
    });
    servers.push(server);
    const port = await listening(server);
    const out = py(
      `import socket,sys
s=socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
s.connect(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"from python")
s.shutdown(socket.SHUT_WR)
data=b""
while True:
    d=s.recv(100)
    if not d: break
    data+=d
print(s.getsockopt(socket.SOL_TCP, 43), data.decode())`,
      [String(port)],
    );
    expect((await out).trim()).toBe('1 from python');
    expect(seen).toEqual([expect.objectContaining({ protocol: IPPROTO_MPTCP, active: true })]);
  });

  it('our client → Python MPTCP server: the server sees TCP_IS_MPTCP=1', async () => {
    const script = `import socket,sys
l=socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
l.bind(("127.0.0.1", 0)); l.listen(1)
print(l.getsockname()[1], flush=True)
c,_=l.accept()
d=c.recv(100)
c.sendall(d)
print(c.getsockopt(socket.SOL_TCP, 43), c.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL), flush=True)
c.close()`;
    const { spawn } = await import('node:child_process');
    const child = spawn('python3', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    // Whole lines only: a pipe read may end anywhere, even between a line and its newline.
    let text = '';
    const lines = (): string[] => text.split('\n').slice(0, -1);
    const firstLine = new Promise<string>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        text += d.toString();
        const first = lines()[0];
        if (first !== undefined) resolve(first);
      });
    });
    const port = Number(await firstLine);
    const client = connect({ host: '127.0.0.1', port, mptcp: 'require' });
    await connected(client);
    expect(isMptcp(client)).toBe(true);
    expect((await roundTrip(client, 'to python')).toString()).toBe('to python');
    await new Promise((r) => child.once('close', r));
    expect(lines()[1]).toBe(`1 ${IPPROTO_MPTCP}`);
  });
});
