import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { mptcpUnavailable, need, python3Unavailable } from './helpers/capability.js';
import { runCli, stopProcess, type Running } from './helpers/cli.js';
import { pythonEchoServer } from './helpers/peers.js';

let server: Running | undefined;
afterEach(async () => {
  if (server) await stopProcess(server, 'SIGKILL');
  server = undefined;
});

interface Connected {
  event: string;
  protocol: number;
  transport: string;
  subflows: Array<{ local: string; remote: string }>;
  source: string;
}

const connectedEvent = (stderr: string): Connected | undefined =>
  stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Connected)
    .find((e) => e.event === 'connected');

describe('mptcpd-lite connect', () => {
  it('talks MPTCP to an independent MPTCP server, copies data both ways, half-closes on EOF, reports subflows', async (ctx) => {
    need(ctx, mptcpUnavailable() ?? python3Unavailable());
    const s = await pythonEchoServer({ mptcp: true });
    server = s.proc;
    const payload = 'x'.repeat(100_000) + '\n';
    const r = await runCli(['connect', `127.0.0.1:${s.port}`, '--mptcp', 'require', '--json', '--info'], {
      input: payload,
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(payload);
    const ev = connectedEvent(r.stderr);
    expect(ev?.protocol).toBe(262);
    expect(ev?.transport).toBe('mptcp');
    expect(ev?.subflows.length).toBe(1);
    expect(ev?.subflows[0]?.remote).toBe(`127.0.0.1:${s.port}`);
    expect(r.stderr).toContain('"event":"closed"');
    expect(await s.proc.waitFor(/"protocol": 262/)).toContain('262');
  });

  it('human report says MPTCP (protocol 262)', async (ctx) => {
    need(ctx, mptcpUnavailable() ?? python3Unavailable());
    const s = await pythonEchoServer({ mptcp: true });
    server = s.proc;
    const r = await runCli(['connect', `127.0.0.1:${s.port}`], { input: 'hi\n' });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/Connected: 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+: MPTCP \(protocol 262\), 1 subflow/);
  });

  it('reports a fallback when the server speaks plain TCP', async (ctx) => {
    need(ctx, mptcpUnavailable() ?? python3Unavailable());
    const s = await pythonEchoServer({ mptcp: false });
    server = s.proc;
    const r = await runCli(['connect', `127.0.0.1:${s.port}`, '--json'], { input: 'hello\n' });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('hello\n');
    expect(connectedEvent(r.stderr)?.transport).toBe('fallback');
  });

  it('--mptcp off: plain TCP', async (ctx) => {
    need(ctx, python3Unavailable());
    const s = await pythonEchoServer({ mptcp: false });
    server = s.proc;
    const r = await runCli(['connect', `127.0.0.1:${s.port}`, '--mptcp', 'off', '--json'], { input: 'a' });
    expect(r.code).toBe(0);
    const ev = connectedEvent(r.stderr);
    expect(ev?.protocol).toBe(6);
    expect(ev?.transport).toBe('tcp');
  });

  it('a refused connection exits 1 naming ECONNREFUSED', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const r = await runCli(['connect', `127.0.0.1:${port}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('ECONNREFUSED');
  });

  it('a bad target exits 2', async () => {
    const r = await runCli(['connect', 'nope']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('expected HOST:PORT');
  });
});
