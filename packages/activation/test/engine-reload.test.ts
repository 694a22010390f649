/** reload(): unchanged sockets keep their fds while clients keep connecting; stop() cleans up. */
import net from 'node:net';
import { existsSync, readFileSync, writeFileSync, rmSync, statSync, lstatSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivationEngine } from '../src/index.js';
import { need, python3 } from './helpers/capability.js';
import { loadUnits } from './helpers/load.js';
import { loadEngineUnits } from '../src/load-units.js';
import { testLogger } from './helpers/log.js';
import { tmp, unitDir, loopback, waitFor } from './helpers/run.js';

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

function ask(port: number): Promise<'ok' | string> {
  return new Promise((resolve) => {
    let data = '';
    const c = net.connect({ port, host: '127.0.0.1' });
    c.on('data', (d) => {
      data += d.toString();
    });
    c.on('error', (err) => resolve((err as NodeJS.ErrnoException).code ?? err.message));
    c.on('close', () => resolve(data === 'ok\n' ? 'ok' : `bad reply ${JSON.stringify(data)}`));
  });
}

describe('reload', () => {
  it('a client loop sees zero refused connections across reloads', async () => {
    const webAddr = await loopback();
    const dir = unitDir({
      // A fast client loop would otherwise trip the default trigger limit (200 per 2 s) on its own.
      'web.socket': `[Socket]\nListenStream=${webAddr}\nAccept=yes\nTriggerLimitBurst=100000\n`,
      'web@.service': '[Service]\nExecStart=/bin/echo ok\nStandardInput=socket\n',
    });
    engine = new ActivationEngine({ logger: testLogger() });
    await engine.start(await loadUnits(dir));
    const before = engine.socket('web.socket');
    const port = before?.listen[0]?.port as number;

    let running = true;
    const outcomes: string[] = [];
    const loop = (async () => {
      while (running) outcomes.push(await ask(port));
    })();

    // Traffic flows between the steps: each waits for 5 more answered connections (events, not time).
    const more = async (): Promise<void> => {
      const n = outcomes.length + 5;
      await waitFor(() => outcomes.length >= n, 60_000, `${n} connections answered`);
    };
    await more();
    // 1: same files again.
    const r1 = await engine.reload(await loadUnits(dir));
    expect(r1.kept).toEqual(['web.socket']);
    await more();
    // 2: a runtime-only change (MaxConnections=) and a new socket unit.
    writeFileSync(
      join(dir, 'web.socket'),
      `[Socket]\nListenStream=${webAddr}\nAccept=yes\nTriggerLimitBurst=100000\nMaxConnections=100\n`,
    );
    // AF_UNIX: a TCP port picked before the reload binds it (freePort: bind :0, close) may be taken
    // meanwhile by another test's socket on a loaded machine; a path in a fresh directory cannot be.
    const otherPath = join(tmp('act-reload-'), 'other.sock');
    writeFileSync(join(dir, 'other.socket'), `[Socket]\nListenStream=${otherPath}\nAccept=yes\n`);
    writeFileSync(join(dir, 'other@.service'), '[Service]\nExecStart=/bin/echo ok\nStandardInput=socket\n');
    const r2 = await engine.reload(await loadUnits(dir));
    expect(r2.kept).toEqual(['web.socket']);
    expect(r2.listening, JSON.stringify(r2.failed)).toContain('other.socket');
    await more();
    // 3: the other socket's file deleted: it keeps serving (systemd keeps an active unit loaded).
    rmSync(join(dir, 'other.socket'));
    const r3 = await engine.reload(await loadUnits(dir));
    expect(r3.removed).toEqual([]);
    expect(r3.kept).toContain('other.socket');
    await more();
    running = false;
    await loop;

    const failures = outcomes.filter((o) => o !== 'ok');
    console.log(
      `reload under load: ${outcomes.length} connections, ${failures.length} failed ${JSON.stringify([...new Set(failures)].slice(0, 5))}`,
    );
    expect(outcomes.length).toBeGreaterThan(20);
    expect(failures).toEqual([]);
    expect(engine.socket('web.socket')?.listen[0]?.fd).toBe(before?.listen[0]?.fd);
    expect(engine.socket('other.socket')?.state).toBe('listening');
  });

  it('a changed idle socket is reopened on its new address', async () => {
    const dir = unitDir({
      'a.socket': `[Socket]\nListenStream=${await loopback()}\nAccept=yes\n`,
      'a@.service': '[Service]\nExecStart=/bin/echo ok\nStandardInput=socket\n',
    });
    engine = new ActivationEngine({ logger: testLogger() });
    await engine.start(await loadUnits(dir));
    const port1 = engine.socket('a.socket')?.listen[0]?.port as number;
    writeFileSync(join(dir, 'a.socket'), `[Socket]\nListenStream=${await loopback()}\nAccept=yes\nNoDelay=yes\n`);
    const r = await engine.reload(await loadUnits(dir));
    expect(r.reopened).toEqual(['a.socket']);
    const port2 = engine.socket('a.socket')?.listen[0]?.port as number;
    expect(port2).not.toBe(port1);
    expect(await ask(port1)).toBe('ECONNREFUSED');
    expect(await ask(port2)).toBe('ok');
  });
});

describe('AF_UNIX and FIFO sockets', () => {
  it('SocketMode, DirectoryMode, SocketUser/Group, Symlinks, RemoveOnStop', async (ctx) => {
    need(ctx, python3);
    const base = tmp('act-unix-');
    const path = join(base, 'sub', 'dir', 'app.sock');
    const link = join(base, 'link.sock');
    const dir = unitDir({
      'u.socket': `[Socket]\nListenStream=${path}\nSocketMode=0640\nDirectoryMode=0750\nSocketUser=nobody\nSocketGroup=nogroup\nSymlinks=${link}\nRemoveOnStop=yes\nAccept=yes\n`,
      'u@.service': '[Service]\nExecStart=/bin/echo unix-ok\nStandardInput=socket\n',
    });
    engine = new ActivationEngine({ logger: testLogger() });
    expect((await engine.start(await loadUnits(dir))).failed).toEqual([]);
    const st = statSync(path);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o7777).toBe(0o640);
    expect(st.uid).toBe(65534);
    expect(st.gid).toBe(65534);
    expect(statSync(join(base, 'sub')).mode & 0o7777).toBe(0o750);
    expect(readlinkSync(link)).toBe(path);
    const instances: string[] = [];
    engine.on('accepted', (e) => instances.push(e.instance));
    const reply = await new Promise<string>((resolve) => {
      let d = '';
      const c = net.connect({ path: link });
      c.on('data', (x) => (d += x.toString()));
      c.on('close', () => resolve(d));
    });
    expect(reply).toBe('unix-ok\n');
    // AF_UNIX instances are named N-PEERPID-PEERUID (the peer is this test process).
    expect(instances).toEqual([`0-${process.pid}-${process.getuid?.() ?? 0}`]);
    await engine.stop();
    engine = undefined;
    expect(existsSync(path)).toBe(false);
    expect(() => lstatSync(link)).toThrow();
  });

  it('ListenFIFO: mkfifo with SocketMode, data triggers the service with the FIFO at fd 3', async () => {
    const base = tmp('act-fifo-');
    const fifo = join(base, 'in.fifo');
    const out = join(base, 'out');
    const dir = unitDir({
      'f.socket': `[Socket]\nListenFIFO=${fifo}\nSocketMode=0620\nRemoveOnStop=yes\n`,
      'f.service': `[Service]\nExecStart=/bin/sh -c 'head -n1 <&3 > ${out}; echo "$$LISTEN_FDNAMES" >> ${out}'\n`,
    });
    engine = new ActivationEngine({ logger: testLogger() });
    expect((await engine.start(await loadUnits(dir))).failed).toEqual([]);
    const st = statSync(fifo);
    expect(st.isFIFO()).toBe(true);
    expect(st.mode & 0o7777).toBe(0o620);
    writeFileSync(fifo, 'through the fifo\n');
    const { readFileSync } = await import('node:fs');
    const { waitFor } = await import('./helpers/run.js');
    await waitFor(() => existsSync(out) && readFileSync(out, 'utf8').split('\n').length >= 3, 5000, 'service output');
    expect(readFileSync(out, 'utf8')).toBe('through the fifo\nf.socket\n');
    await engine.stop();
    engine = undefined;
    expect(existsSync(fifo)).toBe(false);
  });
});

/** Connects and resolves 'connected' or the errno (the backlog accepts while a service holds the fd). */
function connects(port: number): Promise<string> {
  return new Promise((resolve) => {
    const c = net.connect({ port, host: '127.0.0.1' });
    c.on('connect', () => {
      c.destroy();
      resolve('connected');
    });
    c.on('error', (err) => resolve((err as NodeJS.ErrnoException).code ?? err.message));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('reload never loses a serving socket (issue 10)', () => {
  it('a unit file that no longer parses keeps its fds and keeps serving', async () => {
    const addr = await loopback();
    const dir = unitDir({
      'k.socket': `[Socket]\nListenStream=${addr}\nAccept=yes\n`,
      'k@.service': '[Service]\nExecStart=/bin/echo ok\nStandardInput=socket\n',
    });
    const log = testLogger();
    engine = new ActivationEngine({ logger: log });
    await engine.start(await loadUnits(dir));
    const port = engine.socket('k.socket')?.listen[0]?.port as number;
    const fd = engine.socket('k.socket')?.listen[0]?.fd;
    writeFileSync(join(dir, 'k.socket'), `[Socket\nListenStream=${addr}\nAccept=yes\n`);
    writeFileSync(join(dir, 'k@.service'), '[Service\nExecStart=/bin/echo broken\n');
    const loaded = await loadEngineUnits([dir]);
    expect(loaded.errors.length).toBeGreaterThan(0);
    const r = await engine.reload(loaded.units);
    expect(r.kept).toContain('k.socket');
    expect(r.removed).toEqual([]);
    expect(engine.socket('k.socket')?.listen[0]?.fd).toBe(fd);
    expect(await ask(port)).toBe('ok');
  });

  it('changed Listen= waits for the Accept=no service holding the fds, then applies', async () => {
    const [a, b] = [await loopback(), await loopback()];
    const dir = unitDir({
      'h.socket': `[Socket]\nListenStream=${a}\n`,
      'h.service': '[Service]\nExecStart=/bin/sleep 1000\n',
    });
    engine = new ActivationEngine({ logger: testLogger() });
    const started = new Promise<number>((resolve) => engine?.once('started', (e) => resolve(e.pid)));
    await engine.start(await loadUnits(dir));
    const portA = Number(a.split(':')[1]);
    const portB = Number(b.split(':')[1]);
    expect(await connects(portA)).toBe('connected');
    const pid = await started;
    writeFileSync(join(dir, 'h.socket'), `[Socket]\nListenStream=${b}\n`);
    const r = await engine.reload(await loadUnits(dir));
    expect(r.kept).toEqual(['h.socket']);
    expect(r.failed).toEqual([]);
    // Still served by the old fd (the service holds it); the new address is not open yet.
    expect(await connects(portA)).toBe('connected');
    expect(await connects(portB)).toBe('ECONNREFUSED');
    process.kill(pid, 'SIGKILL');
    await waitFor(
      () => engine?.socket('h.socket')?.listen[0]?.port === portB,
      10_000,
      'the socket reopened on its new address',
    );
    expect(engine.socket('h.socket')?.state).toBe('listening');
    expect(await connects(portA)).toBe('ECONNREFUSED');
  });

  it('Accept=yes instances survive a reload that changes their socket: counted, shown, stopped', async () => {
    const [a, b] = [await loopback(), await loopback()];
    const dir = unitDir({
      'i.socket': `[Socket]\nListenStream=${a}\nAccept=yes\nMaxConnections=1\n`,
      'i@.service': '[Service]\nExecStart=/bin/sleep 1000\nStandardInput=socket\n',
    });
    engine = new ActivationEngine({ logger: testLogger() });
    const started = new Promise<number>((resolve) => engine?.once('started', (e) => resolve(e.pid)));
    await engine.start(await loadUnits(dir));
    const held = net.connect({ port: Number(a.split(':')[1]), host: '127.0.0.1' });
    held.on('error', () => undefined);
    const pid = await started;
    writeFileSync(join(dir, 'i.socket'), `[Socket]\nListenStream=${b}\nAccept=yes\nMaxConnections=1\n`);
    const r = await engine.reload(await loadUnits(dir));
    expect(r.reopened).toEqual(['i.socket']);
    const st = engine.status();
    expect(st.sockets.find((s) => s.name === 'i.socket')?.connections).toBe(1);
    expect(st.services.some((s) => s.pid === pid)).toBe(true);
    // MaxConnections=1 still counts the instance: a second connection is refused.
    const refused = new Promise<string>((resolve) => engine?.once('refused', (e) => resolve(e.reason)));
    const c2 = net.connect({ port: Number(b.split(':')[1]), host: '127.0.0.1' });
    c2.on('error', () => undefined);
    expect(await refused).toBe('max-connections');
    c2.destroy();
    await engine.stop();
    engine = undefined;
    held.destroy();
    expect(alive(pid)).toBe(false);
  });
});
