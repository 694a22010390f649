/**
 * Adversarial cases for the fd store (fd-store.ts, service-notify.ts, @mptcp/native watchHangup()):
 * the engine runs in this process, so /proc/self/fd is the daemon's fd table. A Type=notify service
 * (helpers/fd-store-adversarial-service.py) stores unix sockets connected to this process, so the test
 * decides when a stored fd hangs up. Waits are on events (the engine's log lines, FIFOs the unit's
 * ExecStartPre= opens, the client's answer), never on the clock.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivationEngine, NotifySocket, loadNative } from '../src/index.js';
import type { Logger } from '../src/logger.js';
import { need, python3 } from './helpers/capability.js';
import { loadUnits } from './helpers/load.js';
import { HELPERS, freePort, tmp, unitDir } from './helpers/run.js';

const SERVICE = join(HELPERS, 'fd-store-adversarial-service.py');

const support = {
  ok: false,
  reason: '@mptcp/native cannot receive fds or has no fd-store primitives (rebuild the addon)',
};
support.ok = await loadNative().then(
  (n) => NotifySocket.supported(n) && n.fdStore !== undefined,
  () => false,
);

/** Every engine line; `waitLine(re)` resolves with the first line (past or future) matching `re`. */
function watchingLogger(): Logger & { lines: string[]; waitLine(re: RegExp, from?: number): Promise<RegExpExecArray> } {
  const lines: string[] = [];
  const waiters: Array<{ re: RegExp; from: number; resolve: (m: RegExpExecArray) => void }> = [];
  const rec = (m: string, f?: { unit?: string }): void => {
    lines.push(`${f?.unit ? `${f.unit}: ` : ''}${m}`);
    const at = lines.length - 1;
    for (const w of [...waiters]) {
      const hit = at >= w.from ? w.re.exec(lines[at] as string) : null;
      if (hit) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(hit);
      }
    }
  };
  return {
    lines,
    debug: rec,
    info: rec,
    warn: rec,
    error: rec,
    waitLine(re: RegExp, from = 0): Promise<RegExpExecArray> {
      for (let i = from; i < lines.length; i++) {
        const hit = re.exec(lines[i] as string);
        if (hit) return Promise.resolve(hit);
      }
      return new Promise((resolve) => waiters.push({ re, from, resolve }));
    },
  };
}

/** Connects, sends `line`, resolves with everything the service answers up to EOF. */
function ask(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1', () => c.write(`${line}\n`));
    let got = '';
    c.setEncoding('utf8');
    c.on('data', (d: string) => (got += d));
    c.on('end', () => resolve(got));
    c.on('error', reject);
  });
}

interface Rig {
  port: number;
  out: string;
  log: ReturnType<typeof watchingLogger>;
  /** The unix connection the service made to us under `name` (the far end of a stored fd). */
  peer(name: string): Promise<net.Socket>;
  /** Destroys every such connection. */
  dropPeers(): void;
  /** Resolves once the ExecStartPre= of the next start runs; `go()` lets it finish. */
  preTurn(): Promise<{ go(): Promise<void> }>;
  /** Resolves once the service's current run has exited. */
  exited(): Promise<void>;
  close(): Promise<void>;
}

let engine: ActivationEngine | undefined;
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
  for (const c of cleanups.splice(0)) await c();
});

async function rig(): Promise<Rig> {
  const dir = tmp('q-fdstore-');
  const out = join(dir, 'out.txt');
  const started = join(dir, 'pre-started.fifo');
  const go = join(dir, 'pre-go.fifo');
  execFileSync('mkfifo', [started, go]);
  const peerPath = join(dir, 'peer.sock');
  const peers = new Map<string, net.Socket>();
  const waiting = new Map<string, (s: net.Socket) => void>();
  const server = net.createServer((s) => {
    s.once('data', (d) => {
      const name = d.toString().trim();
      peers.set(name, s);
      waiting.get(name)?.(s);
      waiting.delete(name);
    });
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(peerPath, resolve));
  const port = await freePort();
  const units = unitDir({
    'qfd.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
    'qfd.service':
      '[Unit]\nStartLimitIntervalSec=0\n[Service]\nType=notify\nNotifyAccess=main\n' +
      `ExecStartPre=/bin/sh -c 'echo pre > ${started}; read x < ${go}'\n` +
      `ExecStart=/usr/bin/python3 ${SERVICE} ${out} ${peerPath}\n` +
      'FileDescriptorStoreMax=16\nFileDescriptorStorePreserve=yes\n',
  });
  const log = watchingLogger();
  engine = new ActivationEngine({ logger: log });
  await engine.start(await loadUnits(units));
  const e = engine;
  return {
    port,
    out,
    log,
    peer(name: string) {
      const s = peers.get(name);
      return s ? Promise.resolve(s) : new Promise((resolve) => waiting.set(name, resolve));
    },
    dropPeers() {
      for (const s of peers.values()) s.destroy();
      peers.clear();
    },
    async preTurn() {
      await readFile(started);
      return { go: () => writeFile(go, 'go\n') };
    },
    exited() {
      return new Promise<void>((resolve) => {
        const inactive = (): boolean => e.status().services.find((s) => s.name === 'qfd.service')?.state !== 'active';
        const onExit = (): void => {
          e.off('service-exit', onExit);
          resolve();
        };
        e.on('service-exit', onExit);
        if (inactive()) onExit();
      });
    },
    async close() {
      for (const s of peers.values()) s.destroy();
      peers.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** One run of the service: the client's line, with its ExecStartPre= let through at once. */
async function runOnce(r: Rig, line: string): Promise<string> {
  const answer = ask(r.port, line);
  await (await r.preTurn()).go();
  const got = await answer;
  await r.exited();
  return got;
}

const starts = (out: string): string[] =>
  readFileSync(out, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('start: '));

describe('fd store under attack', () => {
  it('a stored fd that hangs up while ExecStartPre= runs is not passed to ExecStart= (systemd collects the fds at spawn)', async (ctx) => {
    need(ctx, python3, support);
    const r = await rig();
    cleanups.push(() => r.close());
    expect(await runOnce(r, 'store 1')).toBe('done store 1\n');
    expect(engine?.status().services.find((s) => s.name === 'qfd.service')?.fdStore).toEqual(['peer0']);
    // Second start: held in ExecStartPre= while the stored socket's peer goes away.
    const answer = ask(r.port, 'nothing');
    const pre = await r.preTurn();
    const mark = r.log.lines.length;
    (await r.peer('peer0')).destroy();
    const hup = await r.log.waitLine(/Received EPOLL(?:HUP|ERR) on stored fd (\d+) \(peer0\), closing\./, mark);
    // The daemon opens something else meanwhile: it gets the number the dropped fd had.
    const reused: number[] = [];
    for (let i = 0; i < 8; i++) {
      const fd = openSync('/dev/null', 'r');
      reused.push(fd);
      if (fd === Number(hup[1])) break;
    }
    cleanups.push(() => reused.forEach((fd) => closeSync(fd)));
    await pre.go();
    expect(await answer).toBe('done nothing\n');
    await r.exited();
    // Only the listening socket: the dropped fd (or whatever now has its number) is not the service's.
    expect(starts(r.out)).toEqual([
      'start: LISTEN_FDNAMES=qfd.socket fds=inet',
      'start: LISTEN_FDNAMES=qfd.socket fds=inet',
    ]);
  });

  it('FDSTOREREMOVE=1 and hang-ups over many starts leak no fd of the daemon; stop() closes the rest', async (ctx) => {
    need(ctx, python3, support);
    const r = await rig();
    // The open files (socket inodes) the store held, read from /proc/self/fd when they were stored.
    const storedSince = (mark: number): string[] =>
      r.log.lines
        .slice(mark)
        .map((l) => /Added fd (\d+) \(peer\d\) to fd store\./.exec(l)?.[1])
        .filter((fd): fd is string => fd !== undefined)
        .map((fd) => readlinkSync(`/proc/self/fd/${fd}`));
    const open = (): Set<string> =>
      new Set(
        readdirSync('/proc/self/fd').map((fd) => {
          try {
            return readlinkSync(`/proc/self/fd/${fd}`);
          } catch {
            return '';
          }
        }),
      );
    const dropped: string[] = [];
    for (let round = 0; round < 5; round++) {
      const mark = r.log.lines.length;
      expect(await runOnce(r, 'store 3')).toBe('done store 3\n');
      const held = storedSince(mark);
      expect(held).toHaveLength(3);
      expect(held.every((t) => t.startsWith('socket:'))).toBe(true);
      dropped.push(...held);
      // A stored fd hangs up while the service is down, the others go by FDSTOREREMOVE=1 on the next starts.
      const hupMark = r.log.lines.length;
      (await r.peer('peer0')).destroy();
      await r.log.waitLine(/Received EPOLL(?:HUP|ERR) on stored fd \d+ \(peer0\), closing\./, hupMark);
      expect(await runOnce(r, 'remove peer1')).toBe('done remove peer1\n');
      expect(await runOnce(r, 'remove peer2')).toBe('done remove peer2\n');
      await Promise.all([r.peer('peer1'), r.peer('peer2')]);
      r.dropPeers();
      expect(engine?.status().services.find((s) => s.name === 'qfd.service')?.fdStore).toEqual([]);
      // None of the open files the store held is open in the daemon any more.
      const now = open();
      expect(dropped.filter((t) => now.has(t))).toEqual([]);
    }
    // Every start saw what was stored before it, never a closed fd.
    expect(starts(r.out).every((l) => !l.includes('EBADF'))).toBe(true);
    // Stored fds still held when the daemon stops are closed by stop().
    const mark = r.log.lines.length;
    expect(await runOnce(r, 'store 2')).toBe('done store 2\n');
    const held = storedSince(mark);
    expect(held).toHaveLength(2);
    await engine?.stop();
    engine = undefined;
    const now = open();
    expect(held.filter((t) => now.has(t))).toEqual([]);
  });
});
