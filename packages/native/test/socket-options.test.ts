/**
 * Socket options on MPTCP sockets: the per-kernel table checked against an independent peer
 * (Python sets every option on its own MPTCP and TCP sockets), and the fallback paths — an option
 * this kernel really refuses on MPTCP, an injected EOPNOTSUPP, and a namespace without MPTCP.
 */
import { execFileSync } from 'node:child_process';
import type * as net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect, listen, mptcpSocketOptions, mptcpStatus, SOCKET_OPTIONS } from '../src/index.js';
import { injectSocketOptionFault } from '../src/socket-options.js';
import { missing, probes, type Probe } from './helpers/capability.js';
import { closeServer, codeOf, connected, listening } from './helpers/net.js';
import { createNetns, deleteNetns } from './helpers/netns.js';
import { dist, have, mptcpListeners, registerFixture, run, start, type Proc } from './helpers/proc.js';

const tool =
  (cmd: string): Probe =>
  () =>
    have(cmd) ? undefined : `${cmd} is not installed`;
const noMptcp = missing(probes.mptcp, tool('python3'));
const noLab = missing(probes.mptcp, probes.root, probes.netns, tool('curl'));

const warnings: string[] = [];
const onWarning = (w: Error): void => {
  if (w.name === 'MptcpWarning') warnings.push(w.message);
};
beforeAll(() => process.on('warning', onWarning));
afterAll(() => process.off('warning', onWarning));

describe.skipIf(noMptcp)('the socket-option table on this kernel', () => {
  it('agrees with Python setting each option on its own MPTCP and TCP sockets', async () => {
    const rows = SOCKET_OPTIONS.map((r) => ({
      name: r.name,
      level: r.level,
      option: r.option,
      on: r.on,
      value: typeof r.probe === 'number' ? r.probe : Buffer.isBuffer(r.probe) ? [...r.probe] : r.probe,
    }));
    const code = `import socket,json,sys,errno
rows=json.loads(sys.argv[1])
def probe(proto):
  out={}
  for on in ('socket','listener'):
    s=socket.socket(socket.AF_INET,socket.SOCK_STREAM,proto)
    if on=='listener':
      s.bind(('127.0.0.1',0)); s.listen(1)
    for r in rows:
      if r['on']!=on: continue
      v=r['value']
      v=bytes(v) if isinstance(v,list) else (v.encode() if isinstance(v,str) else v)
      try:
        s.setsockopt(r['level'],r['option'],v); out[r['name']]='ok'
      except OSError as e:
        out[r['name']]=errno.errorcode[e.errno]
    s.close()
  return out
print(json.dumps({'mptcp':probe(262),'tcp':probe(0)}))`;
    const py = JSON.parse((await run('python3', ['-c', code, JSON.stringify(rows)])).stdout) as {
      mptcp: Record<string, string>;
      tcp: Record<string, string>;
    };
    const alias: Record<string, string> = { ENOTSUP: 'EOPNOTSUPP' };
    const ours = mptcpSocketOptions({ refresh: true });
    expect(ours).toHaveLength(SOCKET_OPTIONS.length);
    for (const r of ours) {
      expect({ name: r.name, mptcp: r.mptcp, tcp: r.tcp }).toEqual({
        name: r.name,
        mptcp: alias[py.mptcp[r.name] ?? ''] ?? py.mptcp[r.name],
        tcp: alias[py.tcp[r.name] ?? ''] ?? py.tcp[r.name],
      });
    }
    // What Node itself and frameworks set on every connection must work on MPTCP here.
    for (const name of [
      'TCP_NODELAY',
      'SO_KEEPALIVE',
      'TCP_KEEPIDLE',
      'TCP_KEEPINTVL',
      'TCP_KEEPCNT',
      'SO_RCVBUF',
      'SO_SNDBUF',
    ]) {
      expect(ours.find((r) => r.name === name)?.mptcp).toBe('ok');
    }
  });
});

describe.skipIf(noMptcp)('an option MPTCP refuses: fallback per listener/dial', () => {
  const servers: net.Server[] = [];
  afterEach(async () => {
    injectSocketOptionFault('TCP_NODELAY', undefined);
    await Promise.all(servers.splice(0).map(closeServer));
  });

  // The option this kernel refuses on MPTCP (on 6.18: TCP_USER_TIMEOUT), or an injected one.
  const refused = (): { key: 'userTimeout' | 'noDelay'; value: number | boolean; name: string } => {
    const row = mptcpSocketOptions({ refresh: true }).find((r) => r.mptcpUnsupported && r.name === 'TCP_USER_TIMEOUT');
    if (row) return { key: 'userTimeout', value: 5000, name: row.name };
    injectSocketOptionFault('TCP_NODELAY', 'EOPNOTSUPP');
    return { key: 'noDelay', value: true, name: 'TCP_NODELAY' };
  };

  it("'prefer': that listener and that dial use TCP, one warning per option; others stay MPTCP", async () => {
    const opt = refused();
    const before = warnings.length;
    const tcpServer = listen({ host: '127.0.0.1', port: 0, [opt.key]: opt.value }, (s) => s.end());
    servers.push(tcpServer);
    const plain = mptcpStatus(tcpServer);
    expect(plain).toMatchObject({ protocol: 6, unavailable: 'option-unsupported' });
    const mptcpServer = listen({ host: '127.0.0.1', port: 0 }, (s) => s.end());
    servers.push(mptcpServer);
    expect(mptcpStatus(mptcpServer).protocol).toBe(262);
    const c = connect({ host: '127.0.0.1', port: await listening(mptcpServer), [opt.key]: opt.value });
    await connected(c);
    expect(mptcpStatus(c)).toMatchObject({ protocol: 6, unavailable: 'option-unsupported' });
    c.destroy();
    const again = listen({ host: '127.0.0.1', port: 0, [opt.key]: opt.value });
    servers.push(again);
    await listening(again);
    expect(warnings.slice(before).filter((w) => w.includes(opt.name))).toHaveLength(1);
  });

  it("'require': MPTCP_OPTION_UNSUPPORTED naming the option", async () => {
    const opt = refused();
    const s = listen({ host: '127.0.0.1', port: 0, mptcp: 'require', [opt.key]: opt.value });
    servers.push(s);
    const err = await new Promise((resolve) => s.once('error', resolve));
    expect(codeOf(err)).toBe('MPTCP_OPTION_UNSUPPORTED');
    expect(String((err as Error).message)).toContain(opt.name);
    // Our own code, with the errno number setsockopt() refused it with (EOPNOTSUPP or ENOPROTOOPT).
    expect([95, 92]).toContain((err as { errno: number }).errno);
  });

  it('injected EOPNOTSUPP on TCP_NODELAY: an unmodified http server under register listens TCP, one warning, curl answered', async (ctx) => {
    if (!have('curl')) return ctx.skip();
    const proc = start(
      process.execPath,
      ['--import', registerFixture('inject.mjs'), '--import', dist('register.js'), registerFixture('http-app.mjs')],
      {
        NATIVE_SOCKET_OPTIONS: dist('socket-options.js'),
        MPTCP_FAULT_OPTION: 'TCP_NODELAY',
      },
    );
    try {
      const port = Number((await proc.line(/^LISTENING/)).split(' ')[1]);
      expect(mptcpListeners()).not.toContain(port);
      expect((await run('curl', ['-sS', `http://127.0.0.1:${port}/x`])).stdout).toBe('hello /x\n');
      expect(proc.stderr().match(/MptcpWarning: TCP_NODELAY is not supported on MPTCP/g)).toHaveLength(1);
    } finally {
      await proc.stop();
    }
  });
});

describe.skipIf(noLab)('register in a namespace with net.mptcp.enabled=0', () => {
  let ns = '';
  let proc: Proc | undefined;
  beforeAll(() => {
    ns = createNetns('natreg');
    execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.mptcp.enabled=0']);
  });
  afterAll(async () => {
    await proc?.stop();
    deleteNetns(ns);
  });

  it('listens with plain TCP, warns once, and serves curl', async () => {
    proc = start('ip', [
      'netns',
      'exec',
      ns,
      process.execPath,
      '--import',
      dist('register.js'),
      registerFixture('http-app.mjs'),
    ]);
    const port = Number((await proc.line(/^LISTENING/)).split(' ')[1]);
    expect((await run('ip', ['netns', 'exec', ns, 'curl', '-sS', `http://127.0.0.1:${port}/a`])).stdout).toBe(
      'hello /a\n',
    );
    expect((await run('ip', ['netns', 'exec', ns, 'curl', '-sS', `http://127.0.0.1:${port}/b`])).stdout).toBe(
      'hello /b\n',
    );
    const ss = (await run('ip', ['netns', 'exec', ns, 'ss', '-MltnH'])).stdout;
    expect(ss).not.toMatch(/^mptcp/m);
    expect(proc.stderr().match(/MptcpWarning: MPTCP is unavailable \(disabled-by-sysctl/g)).toHaveLength(1);
  });
});
