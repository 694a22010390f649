/**
 * The Accept=yes fast path (accept-fast.ts, @mptcp/native addon_accept.cc) on real sockets: which
 * sockets take it, that its instances get what the regular path gives them, that the limits hold
 * exactly across the switch, and that stop, reload and a changed user database bring the socket
 * back — with no process or fd left behind.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import * as nativeModule from '@mptcp/native';
import { afterEach, describe, expect, it } from 'vitest';
import { parseUnitText, type ServiceUnit } from '@mptcp/unit';
import { fastEligible } from '../src/accept-fast.js';
import { ActivationEngine } from '../src/index.js';
import { adaptNative } from '../src/native-binding.js';
import { useUserDatabase } from '../src/user.js';
import { loadUnits } from './helpers/load.js';
import { fdCount, loopback, tmp, unitDir, waitFor } from './helpers/run.js';

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

/** The real native layer, counting regular spawns and hand-overs to the accept thread. */
function countingNative(): { api: ReturnType<typeof adaptNative>; spawns: () => number; adds: () => number } {
  const api = adaptNative(nativeModule);
  let spawns = 0;
  let adds = 0;
  const spawn = api.spawn;
  const fast = api.acceptSpawn;
  if (!spawn || !fast) throw new Error('the addon has no native spawn or no accept fast path');
  const asyncSpawn = spawn.spawnProcessAsync?.bind(spawn);
  return {
    api: {
      ...api,
      spawn: {
        ...spawn,
        ...(asyncSpawn
          ? {
              spawnProcessAsync: (o: nativeModule.SpawnProcessOptions) => {
                spawns += 1;
                return asyncSpawn(o);
              },
            }
          : {}),
      },
      acceptSpawn: {
        ...fast,
        add: (fd, t) => {
          adds += 1;
          return fast.add(fd, t);
        },
      },
    },
    spawns: () => spawns,
    adds: () => adds,
  };
}

const quiet = { debug() {}, info() {}, error() {}, warn() {} };

/** Connects (optionally from `localAddress`), sends `send`, resolves with everything received until the close. */
function exchange(port: number, send: string, localAddress?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect({ port, host: '127.0.0.1', ...(localAddress ? { localAddress } : {}) });
    let got = '';
    c.on('data', (d: Buffer) => (got += d.toString()));
    c.on('end', () => resolve(got));
    c.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? resolve(got) : reject(e)));
    c.end(send);
  });
}

/** A client held open: resolves `greeted` with true on the first byte, false when closed without one. */
function holder(port: number, localAddress?: string): { c: net.Socket; greeted: Promise<boolean> } {
  const c = net.connect({ port, host: '127.0.0.1', ...(localAddress ? { localAddress } : {}) });
  const greeted = new Promise<boolean>((resolve) => {
    c.once('data', () => resolve(true));
    c.once('close', () => resolve(false));
    c.once('error', () => resolve(false));
  });
  return { c, greeted };
}

function envOf(text: string): Map<string, string> {
  return new Map(
    text
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('Accept=yes fast path', () => {
  it('after the first instance the thread serves the socket; instances get the same environment', async () => {
    const n = countingNative();
    const dir = unitDir({
      'env.socket': `[Socket]\nListenStream=${await loopback()}\nAccept=yes\n`,
      'env@.service': '[Service]\nExecStart=/usr/bin/env\nStandardInput=socket\nStandardOutput=socket\nUMask=0027\n',
    });
    engine = new ActivationEngine({ logger: quiet, native: n.api });
    expect((await engine.start(await loadUnits(dir))).failed).toEqual([]);
    const port = engine.socket('env.socket')?.listen[0]?.port as number;
    const started: number[] = [];
    engine.on('started', (e) => started.push(e.pid));
    const first = envOf(await exchange(port, ''));
    expect(n.spawns()).toBe(1);
    await waitFor(() => n.adds() === 1, 10_000, 'the socket to go to the accept thread');
    const rest = [];
    for (let i = 0; i < 5; i++) rest.push(envOf(await exchange(port, '')));
    // Only the first instance was spawned by the engine itself.
    expect(n.spawns()).toBe(1);
    expect(
      readdirSync('/proc/self/task').some(
        (t) => readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim() === 'mptcp-accept',
      ),
    ).toBe(true);
    const ids = new Set([first, ...rest].map((e) => e.get('INVOCATION_ID')));
    expect(ids.size).toBe(6);
    for (const e of rest) {
      expect(e.get('INVOCATION_ID')).toMatch(/^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$/);
      expect(e.get('REMOTE_ADDR')).toBe('127.0.0.1');
      expect(Number(e.get('REMOTE_PORT'))).toBeGreaterThan(0);
      expect(e.get('SYSTEMD_EXEC_PID')).toBeDefined();
      // Everything else exactly as the regular path's instance had it.
      const strip = (m: Map<string, string>): string[] =>
        [...m]
          .filter(([k]) => !['INVOCATION_ID', 'REMOTE_PORT', 'SYSTEMD_EXEC_PID'].includes(k))
          .map(([k, v]) => `${k}=${v}`);
      expect(strip(e)).toEqual(strip(first));
    }
    // The thread reports in batches: the last start may reach the engine after the client's end.
    await waitFor(
      () => engine?.socket('env.socket')?.counters.accepted === 6 && engine.socket('env.socket')?.connections === 0,
      20_000,
      'the instances to be counted and to end',
    );
    const st = engine.socket('env.socket');
    expect(st?.counters).toMatchObject({ accepted: 6, refused: 0, triggers: 6 });
    expect(started).toHaveLength(6);
    expect(started.slice(1).every((p) => !alive(p))).toBe(true);
  });

  it('MaxConnections= and MaxConnectionsPerSource= hold exactly on the thread', async () => {
    const n = countingNative();
    const dir = unitDir({
      'hold.socket': `[Socket]\nListenStream=${await loopback()}\nAccept=yes\nMaxConnections=5\nMaxConnectionsPerSource=2\n`,
      'hold@.service': "[Service]\nExecStart=/bin/sh -c 'echo hello; read line; echo bye'\nStandardInput=socket\n",
    });
    const warnings: string[] = [];
    engine = new ActivationEngine({ logger: { ...quiet, warn: (m) => warnings.push(m) }, native: n.api });
    expect((await engine.start(await loadUnits(dir))).failed).toEqual([]);
    const port = engine.socket('hold.socket')?.listen[0]?.port as number;
    expect(await exchange(port, 'x\n')).toBe('hello\nbye\n');
    await waitFor(() => n.adds() === 1 && engine?.socket('hold.socket')?.connections === 0, 20_000, 'fast and idle');
    const fds = fdCount();
    // 4 sources × 3 clients each, one after the other (so that the order is known): per source 2,
    // and then the global 5.
    const clients: Array<{ c: net.Socket; greeted: Promise<boolean>; source: string }> = [];
    for (const source of ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4']) {
      for (let i = 0; i < 3; i++) {
        const h = { ...holder(port, source), source };
        clients.push(h);
        await waitFor(
          () => {
            const s = engine?.socket('hold.socket');
            return s !== undefined && s.counters.accepted + s.counters.refused === clients.length + 1;
          },
          20_000,
          'the connection to be admitted or refused',
        );
      }
    }
    const greeted = await Promise.all(clients.map((c) => c.greeted));
    const bySource = (s: string): number => clients.filter((c, i) => c.source === s && greeted[i]).length;
    expect([bySource('127.0.0.1'), bySource('127.0.0.2'), bySource('127.0.0.3'), bySource('127.0.0.4')]).toEqual([
      2, 2, 1, 0,
    ]);
    expect(engine.socket('hold.socket')).toMatchObject({ connections: 5, counters: { accepted: 6, refused: 7 } });
    expect(
      warnings.filter((w) => w === 'Too many incoming connections (3) from source 127.0.0.1, dropping connection.'),
    ).toHaveLength(1);
    expect(warnings.filter((w) => w === 'Too many incoming connections (5), dropping connection.')).toHaveLength(5);
    expect(n.spawns()).toBe(1);
    for (const [i, x] of clients.entries()) if (greeted[i]) x.c.end('done\n');
    await waitFor(() => engine?.socket('hold.socket')?.connections === 0, 60_000, 'instances to exit');
    for (const x of clients) x.c.destroy();
    // Slots came back: a new source is served again.
    expect(await exchange(port, 'y\n', '127.0.0.5')).toBe('hello\nbye\n');
    await waitFor(() => engine?.socket('hold.socket')?.connections === 0, 20_000, 'the last instance to exit');
    await waitFor(() => fdCount() <= fds, 20_000, `fd count back to ${fds}`);
  });

  it('counts an instance of the regular path that ends while the thread serves the socket', async () => {
    const n = countingNative();
    const dir = unitDir({
      'one.socket': `[Socket]\nListenStream=${await loopback()}\nAccept=yes\nMaxConnections=1\n`,
      'one@.service': "[Service]\nExecStart=/bin/sh -c 'echo hello; read line; echo bye'\nStandardInput=socket\n",
    });
    engine = new ActivationEngine({ logger: quiet, native: n.api });
    expect((await engine.start(await loadUnits(dir))).failed).toEqual([]);
    const port = engine.socket('one.socket')?.listen[0]?.port as number;
    // The regular path's instance still runs when the socket goes to the thread: it is counted there.
    const first = holder(port);
    expect(await first.greeted).toBe(true);
    await waitFor(() => n.adds() === 1, 10_000, 'the socket to go to the accept thread');
    const second = holder(port);
    expect(await second.greeted).toBe(false);
    first.c.end('done\n');
    await waitFor(() => engine?.socket('one.socket')?.connections === 0, 20_000, 'the first instance to exit');
    expect(await exchange(port, 'z\n')).toBe('hello\nbye\n');
    expect(n.spawns()).toBe(1);
    first.c.destroy();
    second.c.destroy();
  });

  it('stop() ends running instances (KillSignal= to the group) and leaves no process and no fd', async () => {
    const n = countingNative();
    const dir = unitDir({
      'long.socket': `[Socket]\nListenStream=${await loopback()}\nAccept=yes\n`,
      'long@.service': "[Service]\nExecStart=/bin/sh -c 'echo hello; sleep 600 & wait'\nStandardInput=socket\n",
    });
    engine = new ActivationEngine({ logger: quiet, native: n.api });
    expect((await engine.start(await loadUnits(dir))).failed).toEqual([]);
    const port = engine.socket('long.socket')?.listen[0]?.port as number;
    const pids: number[] = [];
    engine.on('started', (e) => pids.push(e.pid));
    const first = holder(port);
    expect(await first.greeted).toBe(true);
    await waitFor(() => n.adds() === 1, 10_000, 'the socket to go to the accept thread');
    const more = [holder(port), holder(port), holder(port)];
    expect(await Promise.all(more.map((m) => m.greeted))).toEqual([true, true, true]);
    expect(n.spawns()).toBe(1);
    // The thread reports in batches: the engine may learn of an instance after its first byte.
    const status = await waitFor(
      () => {
        const all = engine?.status().services.filter((s) => s.name.startsWith('long@'));
        return all?.length === 4 && all;
      },
      10_000,
      'four instances in the status',
    );
    expect(status.every((s) => s.state === 'active' && s.pid !== undefined)).toBe(true);
    // Every instance leads its own group: the shell and its sleep.
    const groups = pids.map((p) => readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]?.split(' ')[2]);
    expect(groups).toEqual(pids.map(String));
    const exits: string[] = [];
    engine.on('service-exit', (e) => exits.push(`${e.signal ?? e.code}/${e.stopped}`));
    await engine.stop();
    engine = undefined;
    expect(exits).toEqual(['SIGTERM/true', 'SIGTERM/true', 'SIGTERM/true', 'SIGTERM/true']);
    for (const p of pids) expect(alive(p)).toBe(false);
    for (const m of [first, ...more]) m.c.destroy();
  });

  it('templates that need the regular path keep it (ExecStartPre=, output to the log, %i)', async () => {
    const n = countingNative();
    const dir = unitDir({
      'pre.socket': `[Socket]\nListenStream=${await loopback()}\nAccept=yes\n`,
      'pre@.service': "[Service]\nExecStartPre=/bin/true\nExecStart=/bin/sh -c 'echo hi'\nStandardInput=socket\n",
      'log.socket': `[Socket]\nListenStream=${await loopback()}\nAccept=yes\n`,
      'log@.service':
        "[Service]\nExecStart=/bin/sh -c 'echo hi; echo err >&2'\nStandardInput=socket\nStandardError=journal\n",
      'spec.socket': `[Socket]\nListenStream=${await loopback()}\nAccept=yes\n`,
      'spec@.service': "[Service]\nExecStart=/bin/sh -c 'echo %i'\nStandardInput=socket\n",
    });
    engine = new ActivationEngine({ logger: quiet, native: n.api, serviceOutput: 'log' });
    expect((await engine.start(await loadUnits(dir))).failed).toEqual([]);
    for (const name of ['pre', 'log', 'spec']) {
      const port = engine.socket(`${name}.socket`)?.listen[0]?.port as number;
      for (let i = 0; i < 3; i++) {
        const got = await exchange(port, '');
        if (name === 'spec') expect(got).toMatch(new RegExp(`^${i}-127\\.0\\.0\\.1:${port}-127\\.0\\.0\\.1:\\d+\\n$`));
        else expect(got).toBe('hi\n');
      }
    }
    expect(n.adds()).toBe(0);
    expect(n.spawns()).toBeGreaterThanOrEqual(3 * 3);
  });

  it('per-connection values in the command line keep the regular path ($REMOTE_PORT, %I, %f): each instance gets its own', async () => {
    const n = countingNative();
    const dir = unitDir({
      'var.socket': `[Socket]\nListenStream=${await loopback()}\nAccept=yes\n`,
      'var@.service': '[Service]\nExecStart=/bin/echo $REMOTE_PORT\nStandardInput=socket\n',
      'unesc.socket': `[Socket]\nListenStream=${await loopback()}\nAccept=yes\n`,
      'unesc@.service': '[Service]\nExecStart=/bin/echo %I\nStandardInput=socket\n',
      'path.socket': `[Socket]\nListenStream=${await loopback()}\nAccept=yes\n`,
      'path@.service': '[Service]\nExecStart=/bin/echo %f\nStandardInput=socket\n',
    });
    engine = new ActivationEngine({ logger: quiet, native: n.api });
    expect((await engine.start(await loadUnits(dir))).failed).toEqual([]);
    const ports = new Set<string>();
    const varPort = engine.socket('var.socket')?.listen[0]?.port as number;
    for (let i = 0; i < 4; i++) ports.add((await exchange(varPort, '')).trim());
    expect(ports.size).toBe(4);
    for (const name of ['unesc', 'path']) {
      const port = engine.socket(`${name}.socket`)?.listen[0]?.port as number;
      for (let i = 0; i < 3; i++) {
        const lead = name === 'path' ? '/' : '';
        expect(await exchange(port, '')).toMatch(
          new RegExp(`^${lead}${i}/127\\.0\\.0\\.1:${port}/127\\.0\\.0\\.1:\\d+\\n$`),
        );
      }
    }
    expect(n.adds()).toBe(0);
  });

  it('fastEligible: NonBlocking=yes with the connection as fd 3, and an optional WorkingDirectory=, keep the regular path', () => {
    const INST = '0-127.0.0.1:1-127.0.0.1:2';
    const parse = (body: string): ServiceUnit => {
      const r = parseUnitText(`[Service]\nExecStart=/bin/true\n${body}`, { file: '/x/a@.service', executables: false });
      if (r.unit?.kind !== 'service') throw new Error('not a service');
      return r.unit;
    };
    expect(fastEligible(parse(''), INST)).toBe(true);
    expect(fastEligible(parse('NonBlocking=yes\n'), INST)).toBe(false);
    expect(fastEligible(parse('NonBlocking=yes\nStandardInput=socket\n'), INST)).toBe(true);
    expect(fastEligible(parse('WorkingDirectory=-/srv/none\n'), INST)).toBe(false);
    expect(fastEligible(parse('WorkingDirectory=/\n'), INST)).toBe(true);
  });

  it('a reload, and a changed user database under User=, take the socket back; it returns afterwards', async () => {
    const n = countingNative();
    const db = tmp('fast-users-');
    const passwd = join(db, 'passwd');
    writeFileSync(passwd, 'root:x:0:0:root:/root:/bin/sh\n');
    writeFileSync(join(db, 'group'), 'root:x:0:\n');
    useUserDatabase({ passwd, group: join(db, 'group') });
    try {
      const dir = unitDir({
        'who.socket': `[Socket]\nListenStream=${await loopback()}\nAccept=yes\n`,
        'who@.service': "[Service]\nExecStart=/bin/sh -c 'id -u'\nStandardInput=socket\nUser=root\n",
      });
      engine = new ActivationEngine({ logger: quiet, native: n.api });
      expect((await engine.start(await loadUnits(dir))).failed).toEqual([]);
      const port = engine.socket('who.socket')?.listen[0]?.port as number;
      expect(await exchange(port, '')).toBe('0\n');
      await waitFor(() => n.adds() === 1, 10_000, 'fast');
      expect(await exchange(port, '')).toBe('0\n');
      expect(n.spawns()).toBe(1);
      // The database changes: the thread hands the socket back before accepting; the regular path
      // resolves User= anew and the socket goes to the thread again with the new template.
      writeFileSync(passwd, 'root:x:0:0:root:/root:/bin/sh\nother:x:4242:4242::/:/bin/sh\n');
      expect(await exchange(port, '')).toBe('0\n');
      expect(n.spawns()).toBe(2);
      await waitFor(() => n.adds() === 2, 10_000, 'fast again');
      expect(await exchange(port, '')).toBe('0\n');
      expect(n.spawns()).toBe(2);
      // A reload: back to the regular path until the next instance proved plain again.
      await engine.reload(await loadUnits(dir));
      expect(await exchange(port, '')).toBe('0\n');
      expect(n.spawns()).toBe(3);
      await waitFor(() => n.adds() === 3, 10_000, 'fast after the reload');
      expect(await exchange(port, '')).toBe('0\n');
      expect(n.spawns()).toBe(3);
      await waitFor(() => engine?.socket('who.socket')?.counters.accepted === 6, 10_000, 'six connections counted');
    } finally {
      useUserDatabase({ passwd: '/etc/passwd', group: '/etc/group' });
    }
  });

  it('a reload that makes a template plain lets its socket take the fast path', async () => {
    const n = countingNative();
    const dir = unitDir({
      'late.socket': `[Socket]\nListenStream=${await loopback()}\nAccept=yes\n`,
      'late@.service': "[Service]\nExecStartPre=/bin/true\nExecStart=/bin/sh -c 'echo hi'\nStandardInput=socket\n",
    });
    engine = new ActivationEngine({ logger: quiet, native: n.api });
    expect((await engine.start(await loadUnits(dir))).failed).toEqual([]);
    const port = engine.socket('late.socket')?.listen[0]?.port as number;
    for (let i = 0; i < 2; i++) expect(await exchange(port, '')).toBe('hi\n');
    expect(n.adds()).toBe(0);
    writeFileSync(join(dir, 'late@.service'), "[Service]\nExecStart=/bin/sh -c 'echo hi'\nStandardInput=socket\n");
    await engine.reload(await loadUnits(dir));
    expect(await exchange(port, '')).toBe('hi\n');
    await waitFor(() => n.adds() === 1, 10_000, 'the fast path after the reload');
    expect(await exchange(port, '')).toBe('hi\n');
  });

  it('TriggerLimitBurst= counts the regular and the fast connections together', async () => {
    const n = countingNative();
    const dir = unitDir({
      'trig.socket': `[Socket]\nListenStream=${await loopback()}\nAccept=yes\nTriggerLimitIntervalSec=1h\nTriggerLimitBurst=4\n`,
      'trig@.service': "[Service]\nExecStart=/bin/sh -c 'echo hi'\nStandardInput=socket\n",
    });
    const warnings: string[] = [];
    engine = new ActivationEngine({ logger: { ...quiet, warn: (m) => warnings.push(m) }, native: n.api });
    expect((await engine.start(await loadUnits(dir))).failed).toEqual([]);
    const port = engine.socket('trig.socket')?.listen[0]?.port as number;
    expect(await exchange(port, '')).toBe('hi\n');
    await waitFor(() => n.adds() === 1, 10_000, 'fast');
    for (let i = 0; i < 3; i++) expect(await exchange(port, '')).toBe('hi\n');
    // The fifth trigger within the hour fails the socket; its connection gets nothing.
    expect(await exchange(port, '')).toBe('');
    await waitFor(() => engine?.socket('trig.socket')?.state === 'failed', 10_000, 'the socket to fail');
    expect(engine.socket('trig.socket')).toMatchObject({
      result: 'trigger-limit-hit',
      counters: { triggers: 4, accepted: 4, refused: 1 },
    });
    expect(warnings).toContain('Trigger limit hit, refusing further activation.');
    await expect(exchange(port, '')).rejects.toThrow(/ECONNREFUSED/);
  });

  it('a reload never waits for an instance hanging before its exec; its connection keeps its MaxConnections= slot', async () => {
    // The instance's execve blocks in the open of its binary while another process holds a write
    // lease on it (a stand-in for a chdir on a dead NFS mount): the reload must not wait for it.
    const n = countingNative();
    const prog = join(tmp('fast-hang-'), 'prog');
    copyFileSync('/bin/cat', prog);
    const dir = unitDir({
      'hang.socket': `[Socket]\nListenStream=${await loopback()}\nAccept=yes\nMaxConnections=1\n`,
      'hang@.service': `[Service]\nExecStart=${prog}\nStandardInput=socket\n`,
    });
    const refusals: string[] = [];
    engine = new ActivationEngine({ logger: quiet, native: n.api });
    engine.on('refused', (e) => refusals.push(e.reason));
    expect((await engine.start(await loadUnits(dir))).failed).toEqual([]);
    const port = engine.socket('hang.socket')?.listen[0]?.port as number;
    expect(await exchange(port, 'a')).toBe('a');
    await waitFor(() => n.adds() === 1, 10_000, 'the socket to go to the accept thread');
    const lease = leaseHolder(prog);
    try {
      await lease.heard('held');
      const hung = net.connect({ port, host: '127.0.0.1' });
      let echoed = '';
      hung.on('data', (d: Buffer) => (echoed += d.toString()));
      const hungClosed = new Promise((resolve) => hung.on('close', resolve));
      await lease.heard('break'); // the thread's child is in its execve
      await engine.reload(await loadUnits(dir));
      // F_RDLCK (0): the lease is still being broken, so the child had not exec'd when the reload
      // returned (F_UNLCK, 2, only once the kernel gave up after fs.lease-break-time, 45 s).
      expect(await lease.ask('state', 'lease')).toBe('lease 0');
      // The connection in flight holds the only slot: the regular path refuses the next one.
      expect(await exchange(port, 'c')).toBe('');
      expect(refusals).toEqual(['max-connections']);
      await lease.ask('release', 'released');
      hung.end('b');
      await hungClosed;
      expect(echoed).toBe('b');
      // Its exit frees the slot.
      await waitFor(() => engine?.socket('hang.socket')?.counters.accepted === 2, 10_000, 'two served');
      await waitFor(
        () => engine?.status().services.every((s) => !s.name.startsWith('hang@')),
        10_000,
        'the instance to exit',
      );
      expect(await exchange(port, 'd')).toBe('d');
    } finally {
      lease.kill();
    }
  }, 60_000);
});

/**
 * A process holding a write lease on `file` (F_SETLEASE): an open of the file by anyone else —
 * an execve of it too — blocks until the holder lets go. Prints `held`, `break` when an open waits,
 * answers `state` with `lease N` (F_GETLEASE) and `release` with `released`.
 */
function leaseHolder(file: string): {
  heard(word: string): Promise<string>;
  ask(line: string, word: string): Promise<string>;
  kill(): void;
} {
  const script = [
    'import fcntl, os, signal, sys',
    'fd = os.open(sys.argv[1], os.O_RDONLY)',
    "signal.signal(signal.SIGIO, lambda *a: (sys.stdout.write('break\\n'), sys.stdout.flush()))",
    'fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)',
    "print('held', flush=True)",
    'sys.stdin.readline()',
    "print('lease', fcntl.fcntl(fd, fcntl.F_GETLEASE), flush=True)",
    'sys.stdin.readline()',
    'fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)',
    'os.close(fd)',
    "print('released', flush=True)",
    'sys.stdin.readline()',
  ].join('\n');
  const child = spawn('python3', ['-c', script, file], { stdio: ['pipe', 'pipe', 'inherit'] });
  let said = '';
  const waiters: Array<() => void> = [];
  child.stdout.on('data', (d: Buffer) => {
    said += d.toString();
    for (const w of waiters.splice(0)) w();
  });
  const heard = (word: string): Promise<string> =>
    new Promise((resolve) => {
      const check = (): void => {
        // Complete lines only: a pipe read can end inside a line ('lease' of 'lease 0').
        const line = said
          .split('\n')
          .slice(0, -1)
          .find((l) => l.startsWith(word));
        if (line !== undefined) resolve(line);
        else waiters.push(check);
      };
      check();
    });
  return {
    heard,
    ask: (line, word) => {
      child.stdin.write(`${line}\n`);
      return heard(word);
    },
    kill: () => child.kill('SIGKILL'),
  };
}
