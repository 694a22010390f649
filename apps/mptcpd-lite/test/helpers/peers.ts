/** Independent peers written in Python (socket.IPPROTO_MPTCP), so the tests do not test us with us. */
import { startProcess, HELPERS, type Running } from './cli.js';
import path from 'node:path';

/** An echo server: MPTCP (262) or plain TCP; prints "LISTENING port" then one JSON line per connection. */
export async function pythonEchoServer(opts: {
  mptcp: boolean;
  host?: string;
  port?: number;
}): Promise<{ proc: Running; port: number }> {
  const proc = startProcess('python3', [
    path.join(HELPERS, 'echo-server.py'),
    opts.mptcp ? '262' : '0',
    opts.host ?? '127.0.0.1',
    String(opts.port ?? 0),
  ]);
  const line = await proc.waitFor(/^LISTENING \d+/);
  return { proc, port: Number(line.split(' ')[1]) };
}

/** A held-open MPTCP connection (client+server in one python process) that sent `bytes` bytes. */
export async function pythonMptcpPair(
  bytes: number,
): Promise<{ proc: Running; serverPort: number; clientPort: number }> {
  const proc = startProcess('python3', [path.join(HELPERS, 'mptcp-pair.py'), String(bytes)]);
  const line = await proc.waitFor(/^PAIR \d+ \d+/);
  const [, s, c] = line.split(' ');
  return { proc, serverPort: Number(s), clientPort: Number(c) };
}

/** Connects with python (MPTCP when asked), sends `data`, half-closes, returns what came back and TCP_IS_MPTCP. */
export async function pythonClient(
  port: number,
  data: string,
  mptcp = true,
): Promise<{ received: string; isMptcp: number; protocol: number }> {
  const proc = startProcess('python3', [path.join(HELPERS, 'client.py'), String(port), mptcp ? '262' : '0', data]);
  const line = await proc.waitFor(/^RESULT /, 10000);
  await proc.exited;
  return JSON.parse(line.slice('RESULT '.length)) as { received: string; isMptcp: number; protocol: number };
}
