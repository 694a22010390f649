import { afterEach, describe, expect, it } from 'vitest';
import { mptcpUnavailable, need, python3Unavailable } from './helpers/capability.js';
import { runCli, stopProcess, type Running } from './helpers/cli.js';
import { pythonMptcpPair } from './helpers/peers.js';

let peer: Running | undefined;
afterEach(async () => {
  if (peer) await stopProcess(peer, 'SIGKILL');
  peer = undefined;
});

interface Conn {
  state: string;
  local: { address: string; port: number };
  remote: { address: string; port: number };
  info?: { token: number; bytesSent: number; bytesReceived: number; subflowsTotal: number };
  subflows: Array<{ tokenLoc: number; local: { port: number }; remote: { port: number } }>;
}

describe('mptcpd-lite info', () => {
  it('finds a live MPTCP connection through sock_diag, with its subflow matched by token and byte counters', async (ctx) => {
    need(ctx, mptcpUnavailable() ?? python3Unavailable());
    const pair = await pythonMptcpPair(12345);
    peer = pair.proc;
    const r = await runCli(['info', '--json', '--port', String(pair.serverPort), '--listening']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as { ports: number[]; connections: Conn[] };
    expect(j.ports).toEqual([pair.serverPort]);
    const client = j.connections.find((c) => c.local.port === pair.clientPort);
    const server = j.connections.find((c) => c.local.port === pair.serverPort && c.state === 'ESTAB');
    const listener = j.connections.find((c) => c.state === 'LISTEN');
    expect(listener?.local.port).toBe(pair.serverPort);
    expect(client?.info?.bytesSent).toBe(12345);
    expect(server?.info?.bytesReceived).toBe(12345);
    for (const c of [client, server]) {
      expect(c?.subflows).toHaveLength(1);
      expect(c?.subflows[0]?.tokenLoc).toBe(c?.info?.token);
      expect(c?.info?.subflowsTotal).toBe(1);
    }
    const text = await runCli(['info', '--port', String(pair.serverPort)]);
    expect(text.stdout).toContain(`MPTCP connections on port ${pair.serverPort}: 2`);
    expect(text.stdout).toMatch(/subflow 127\.0\.0\.1:\d+ <-> 127\.0\.0\.1:\d+/);
    expect(text.stdout).toContain('12.1 KiB');
  });

  it('--watch prints the listing, then events, with no terminal codes when stdout is not a tty', async (ctx) => {
    need(ctx, mptcpUnavailable() ?? python3Unavailable());
    const { startCli } = await import('./helpers/cli.js');
    const w = startCli(['info', '--watch', '--port', '1']);
    await w.waitFor(/MPTCP connections on port 1: 0/);
    const res = await stopProcess(w, 'SIGINT');
    expect(res.code).toBe(0);
    expect(w.stdout()).not.toContain('\x1b');
  });

  it('rejects a bad port with exit 2', async () => {
    const r = await runCli(['info', '--port', '70000']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('invalid --port: 70000');
  });
});

describe('mptcpd-lite info over IPv6', () => {
  it('decodes AF_INET6 MPTCP sockets', async (ctx) => {
    need(ctx, mptcpUnavailable() ?? python3Unavailable());
    const { startProcess } = await import('./helpers/cli.js');
    const p = startProcess('python3', [
      '-c',
      "import socket, time\nl = socket.socket(socket.AF_INET6, socket.SOCK_STREAM, 262); l.bind(('::1', 0)); l.listen()\nc = socket.socket(socket.AF_INET6, socket.SOCK_STREAM, 262); c.connect(l.getsockname()[:2]); a, _ = l.accept()\nc.sendall(b'v6' * 100); a.recv(1000)\nprint('PAIR', l.getsockname()[1], flush=True)\ntime.sleep(30)",
    ]);
    peer = p;
    const port = Number((await p.waitFor(/^PAIR \d+/)).split(' ')[1]);
    const r = await runCli(['info', '--json', '--port', String(port)]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as {
      connections: Array<{
        family: string;
        local: { address: string; port: number };
        subflows: unknown[];
        info?: { bytesReceived: number };
      }>;
    };
    const server = j.connections.find((c) => c.local.port === port);
    expect(server).toEqual(expect.objectContaining({ family: 'inet6', local: { address: '::1', port } }));
    expect(server?.info?.bytesReceived).toBe(200);
    expect(server?.subflows).toHaveLength(1);
  });
});
