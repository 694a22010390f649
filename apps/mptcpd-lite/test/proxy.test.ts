/**
 * `mptcpd-lite proxy`: the PROXY header bytes, then real peers — HAProxy with `accept-proxy` behind
 * the proxy logs the real client address (from another namespace, over MPTCP), socket activation
 * through systemd-socket-activate with --exit-idle-time, an AF_UNIX backend, a refused backend;
 * a large upload and a half-closed reply byte for byte with each relay (splice(2) and streams).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import * as nodeNet from 'node:net';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { proxyHeaderV1, proxyHeaderV2, PROXY_V2_SIGNATURE } from '../src/proxy/proxy-protocol.js';
import { parseProxyAddress } from '../src/proxy/address.js';
import { mptcpUnavailable, need, netnsUnavailable, python3Unavailable } from './helpers/capability.js';
import { CLI, HELPERS, runCli, startCli, startProcess, stopProcess, type Running } from './helpers/cli.js';
import { freePort, tempDir } from './helpers/units.js';

const procs: Running[] = [];
const cleanups: Array<() => void> = [];
afterAll(async () => {
  for (const p of procs.reverse()) await stopProcess(p, 'SIGTERM');
  for (const c of cleanups.reverse()) c();
});

describe('PROXY protocol headers', () => {
  const c4 = { source: { address: '192.0.2.10', port: 40000 }, destination: { address: '198.51.100.1', port: 443 } };
  it('v1: TCP4, TCP6, IPv4-mapped as TCP4, UNKNOWN without addresses', () => {
    expect(proxyHeaderV1(c4).toString()).toBe('PROXY TCP4 192.0.2.10 198.51.100.1 40000 443\r\n');
    expect(
      proxyHeaderV1({
        source: { address: '2001:db8::1', port: 1 },
        destination: { address: '2001:db8::2', port: 2 },
      }).toString(),
    ).toBe('PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n');
    expect(
      proxyHeaderV1({
        source: { address: '::ffff:192.0.2.10', port: 5 },
        destination: { address: '::ffff:198.51.100.1', port: 6 },
      }).toString(),
    ).toBe('PROXY TCP4 192.0.2.10 198.51.100.1 5 6\r\n');
    expect(proxyHeaderV1({}).toString()).toBe('PROXY UNKNOWN\r\n');
  });
  it('v2: signature, PROXY|v2, TCP over IPv4 with 12 address bytes; LOCAL without addresses', () => {
    const h = proxyHeaderV2(c4);
    expect(h.subarray(0, 12)).toEqual(PROXY_V2_SIGNATURE);
    expect([...h.subarray(12, 16)]).toEqual([0x21, 0x11, 0, 12]);
    expect([...h.subarray(16, 24)]).toEqual([192, 0, 2, 10, 198, 51, 100, 1]);
    expect(h.readUInt16BE(24)).toBe(40000);
    expect(h.readUInt16BE(26)).toBe(443);
    const h6 = proxyHeaderV2({ source: { address: '2001:db8::1', port: 1 }, destination: { address: '::1', port: 2 } });
    expect([...h6.subarray(12, 16)]).toEqual([0x21, 0x21, 0, 36]);
    expect(h6.length).toBe(16 + 36);
    expect([...proxyHeaderV2({}).subarray(12)]).toEqual([0x20, 0x00, 0, 0]);
  });
  it('addresses: HOST:PORT, [V6]:PORT, bare port for --listen, paths, abstract; junk rejected', () => {
    expect(parseProxyAddress('127.0.0.1:80')).toEqual({ kind: 'inet', host: '127.0.0.1', port: 80 });
    expect(parseProxyAddress('[::1]:8080')).toEqual({ kind: 'inet', host: '::1', port: 8080 });
    expect(parseProxyAddress('8080', '::')).toEqual({ kind: 'inet', host: '::', port: 8080 });
    expect(parseProxyAddress('/run/x.sock')).toEqual({ kind: 'unix', path: '/run/x.sock' });
    expect(parseProxyAddress('@abs')).toEqual({ kind: 'unix', path: '\0abs' });
    expect(() => parseProxyAddress('8080')).toThrow(/invalid address "8080"/);
    expect(() => parseProxyAddress('host:99999')).toThrow(/invalid address/);
  });
});

/** A Python AF_UNIX echo server in a new temporary directory; resolves with its socket path once it listens. */
async function unixEchoBackend(prefix: string): Promise<string> {
  const dir = tempDir(prefix);
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const sock = path.join(dir, 'backend.sock');
  const backend = startProcess('python3', [path.join(HELPERS, 'echo-server.py'), 'unix', sock]);
  procs.push(backend);
  await backend.waitFor(/^LISTENING/);
  return sock;
}

/** client.py: connects to 127.0.0.1:PORT with protocol `proto` (262 MPTCP, 6 TCP), sends `data`; its stdout. */
const pyClient = (port: number | string, proto: number, data: string): string =>
  spawnSync('python3', [path.join(HELPERS, 'client.py'), String(port), String(proto), data], {
    encoding: 'utf8',
    timeout: 30_000,
  }).stdout;

const haproxyMissing = (): string | undefined =>
  spawnSync('haproxy', ['-v']).status === 0 ? undefined : 'haproxy (Debian package) is needed';

describe('mptcpd-lite proxy with real peers', () => {
  for (const version of ['v1', 'v2'] as const)
    it(`in front of HAProxy (accept-proxy, PROXY ${version}): HAProxy logs the real client address of an MPTCP client from another namespace`, async (ctx) => {
      need(ctx, netnsUnavailable() ?? mptcpUnavailable() ?? python3Unavailable() ?? haproxyMissing());
      const id = `${process.pid % 10000}${version}`;
      const nsP = `mdl-pp${id}`;
      const nsC = `mdl-pc${id}`;
      const net = `10.${110 + (version === 'v1' ? 0 : 1)}.${process.pid % 250}`;
      execFileSync('ip', ['netns', 'add', nsP]);
      execFileSync('ip', ['netns', 'add', nsC]);
      cleanups.push(() => {
        spawnSync('ip', ['netns', 'del', nsP]);
        spawnSync('ip', ['netns', 'del', nsC]);
      });
      const ipn = (ns: string, ...a: string[]): void => void execFileSync('ip', ['-n', ns, ...a]);
      ipn(nsP, 'link', 'set', 'lo', 'up');
      ipn(nsP, 'link', 'add', 'pp0', 'type', 'veth', 'peer', 'name', 'pc0', 'netns', nsC);
      ipn(nsP, 'addr', 'add', `${net}.1/24`, 'dev', 'pp0');
      ipn(nsC, 'addr', 'add', `${net}.2/24`, 'dev', 'pc0');
      ipn(nsP, 'link', 'set', 'pp0', 'up');
      ipn(nsC, 'link', 'set', 'pc0', 'up');
      const dir = tempDir('mdl-proxy-');
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const cfg = path.join(dir, 'haproxy.cfg');
      writeFileSync(
        cfg,
        [
          'global',
          '    log stdout format raw local0',
          'defaults',
          '    mode http',
          '    log global',
          '    timeout connect 5s',
          '    timeout client 30s',
          '    timeout server 30s',
          'frontend fe',
          '    bind 127.0.0.1:8081 accept-proxy',
          '    log-format "client=%ci:%cp frontend=%fi:%fp"',
          '    http-request return status 200 content-type text/plain string "ok"',
          '',
        ].join('\n'),
      );
      const haproxy = startProcess('ip', ['netns', 'exec', nsP, 'haproxy', '-db', '-f', cfg]);
      procs.push(haproxy);
      const proxy = startCli(
        [
          'proxy',
          '--listen',
          '0.0.0.0:8443',
          '--mptcp',
          'require',
          '--proxy-protocol',
          version,
          '--json',
          '127.0.0.1:8081',
        ],
        { netns: nsP },
      );
      procs.push(proxy);
      expect(JSON.parse(await proxy.waitFor(/"event":"ready"/, 30_000))).toEqual(
        expect.objectContaining({ listen: [{ address: '0.0.0.0:8443', transport: 'mptcp' }] }),
      );
      // HAProxy may start after the proxy: wait for its listener (an event: the socket is bound), then
      // run the client once. 60 s is only a safety net for a starved HAProxy.
      const haproxyEnd = Date.now() + 60_000;
      for (;;) {
        const ss = spawnSync('ip', ['netns', 'exec', nsP, 'ss', '-Hltn', '( sport = :8081 )'], { encoding: 'utf8' });
        if (ss.stdout.trim() !== '') break;
        if (haproxy.child.exitCode !== null || Date.now() > haproxyEnd) {
          throw new Error(
            `HAProxy did not listen on 127.0.0.1:8081 (exit code ${haproxy.child.exitCode}); output:\n${haproxy.lines.join('\n')}`,
          );
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      const r = spawnSync(
        'ip',
        ['netns', 'exec', nsC, 'python3', path.join(HELPERS, 'mptcp-get.py'), `${net}.1`, '8443'],
        { encoding: 'utf8', timeout: 60_000 },
      );
      const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
      const result = line
        ? (JSON.parse(line.slice(7)) as { localPort: number; status: string; mptcp: number })
        : undefined;
      if (!result) throw new Error(`mptcp-get.py gave no RESULT line; stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
      expect(result?.status).toBe('200');
      expect(result?.mptcp).toBe(1);
      await haproxy.waitFor(
        new RegExp(
          `client=${net.replace(/\./g, '\\.')}\\.2:${result?.localPort} frontend=${net.replace(/\./g, '\\.')}\\.1:8443`,
        ),
        15_000,
      );
      const conn = JSON.parse(
        await proxy.waitFor(
          new RegExp(`"event":"connection".*"client":"${net.replace(/\./g, '\\.')}\\.2:${result?.localPort}"`),
          15_000,
        ),
      ) as { transport: string };
      expect(conn.transport).toBe('mptcp');
    }, 120_000);

  it('socket-activated by systemd-socket-activate, to an AF_UNIX backend, exits after --exit-idle-time', async (ctx) => {
    need(
      ctx,
      mptcpUnavailable() ??
        python3Unavailable() ??
        (spawnSync('systemd-socket-activate', ['--version']).status === 0
          ? undefined
          : 'systemd-socket-activate is needed'),
    );
    const sock = await unixEchoBackend('mdl-proxy-act-');
    const port = await freePort();
    const act = startProcess('systemd-socket-activate', [
      '-l',
      `127.0.0.1:${port}`,
      process.execPath,
      CLI,
      'proxy',
      '--json',
      '--exit-idle-time',
      '1',
      sock,
    ]);
    procs.push(act);
    await act.waitFor(/Listening on/, 30_000);
    expect(pyClient(port, 6, 'through the proxy')).toContain('"received": "through the proxy"');
    const ready = JSON.parse(await act.waitFor(/"event":"ready"/)) as { listen: Array<{ transport: string }> };
    // systemd-socket-activate creates a plain TCP socket; the proxy reads SO_PROTOCOL of what it got.
    expect(ready.listen[0]?.transport).toBe('tcp');
    await act.waitFor(/"event":"closed".*"bytesIn":17/);
    await act.waitFor(/"event":"idle-exit"/, 30_000);
    expect((await act.exited).code).toBe(0);
  }, 60_000);

  it('socket-activated with an MPTCP socket (mptcpd-lite activate --mptcp): the proxy reports and serves MPTCP', async (ctx) => {
    need(ctx, mptcpUnavailable() ?? python3Unavailable());
    const sock = await unixEchoBackend('mdl-proxy-mp-');
    const port = await freePort();
    const act = startCli([
      'activate',
      '-l',
      `127.0.0.1:${port}`,
      '--mptcp',
      '--',
      process.execPath,
      CLI,
      'proxy',
      '--json',
      sock,
    ]);
    procs.push(act);
    await act.waitFor(/Listening on/, 30_000);
    const out = pyClient(port, 262, 'mptcp through');
    expect(out).toContain('"received": "mptcp through"');
    expect(out).toContain('"isMptcp": 1');
    const ready = JSON.parse(await act.waitFor(/"event":"ready"/)) as { listen: Array<{ transport: string }> };
    expect(ready.listen[0]?.transport).toBe('mptcp');
    expect(JSON.parse(await act.waitFor(/"event":"connection"/)) as { transport: string }).toEqual(
      expect.objectContaining({ transport: 'mptcp', backendTransport: 'unix' }),
    );
  }, 60_000);

  for (const relay of ['splice', 'stream'] as const)
    it(`--relay ${relay}: 24 MiB up, the FIN passed on, the backend's reply after it comes back byte for byte`, async () => {
      const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
      // The backend reads until EOF (the client's half-close through the proxy), then answers with
      // the sha-256 of what it got followed by 8 MiB of its own.
      const reply = randomBytes(8 << 20);
      const backend = nodeNet.createServer({ allowHalfOpen: true }, (s) => {
        const got = createHash('sha256');
        s.on('data', (c: Buffer) => got.update(c));
        s.on('end', () => {
          s.write(got.digest('hex'));
          s.end(reply);
        });
      });
      backend.listen(0, '127.0.0.1');
      await once(backend, 'listening');
      cleanups.push(() => backend.close());
      const port = (backend.address() as nodeNet.AddressInfo).port;
      const proxy = startCli([
        'proxy',
        '--listen',
        '127.0.0.1:0',
        '--mptcp',
        'off',
        '--relay',
        relay,
        '--json',
        `127.0.0.1:${port}`,
      ]);
      procs.push(proxy);
      const ready = JSON.parse(await proxy.waitFor(/"event":"ready"/, 30_000)) as {
        listen: Array<{ address: string }>;
        relay: string;
      };
      expect(ready.relay).toBe(relay);
      const front = Number((ready.listen[0]?.address ?? '').split(':').pop());
      const up = randomBytes(24 << 20);
      const client = nodeNet.connect({ port: front, host: '127.0.0.1', allowHalfOpen: true });
      const chunks: Buffer[] = [];
      client.on('data', (c: Buffer) => chunks.push(c));
      const ended = once(client, 'end');
      client.end(up);
      await ended;
      client.destroy();
      const got = Buffer.concat(chunks);
      expect(got.subarray(0, 64).toString()).toBe(sha(up));
      expect(sha(got.subarray(64))).toBe(sha(reply));
      const closed = JSON.parse(await proxy.waitFor(/"event":"closed"/, 30_000)) as Record<string, unknown>;
      expect(closed).toEqual(expect.objectContaining({ relay, bytesIn: up.length, bytesOut: 64 + reply.length }));
      expect(closed.error).toBeUndefined();
      await stopProcess(proxy, 'SIGTERM');
    }, 120_000);

  it('a refused backend closes the client and reports ECONNREFUSED; no listener → exit 2', async (ctx) => {
    need(ctx, python3Unavailable());
    const dead = await freePort();
    const proxy = startCli(['proxy', '--listen', '127.0.0.1:0', '--mptcp', 'off', '--json', `127.0.0.1:${dead}`]);
    procs.push(proxy);
    const ready = JSON.parse(await proxy.waitFor(/"event":"ready"/, 30_000)) as { listen: Array<{ address: string }> };
    const port = (ready.listen[0]?.address ?? '').split(':').pop() ?? '';
    // The proxy closes the client (a reset, as it had unread data): nothing comes back.
    expect(pyClient(port, 6, 'x')).not.toContain('"received": "x"');
    await proxy.waitFor(/"event":"closed".*"error":"backend 127\.0\.0\.1:\d+: ECONNREFUSED/, 15_000);
    const none = await runCli(['proxy', '127.0.0.1:1'], { env: { LISTEN_FDS: '' } });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('nothing to listen on');
  }, 60_000);
});
