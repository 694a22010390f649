/**
 * The shared poll set behind watchReadable()/watchWritable()/watchEvents(): one epoll set for every
 * watcher of the process, level-triggered like the uv_poll per fd it replaced.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { accept, close, openSocket, watchReadable, type FdWatcher } from '../src/index.js';

const fds: number[] = [];
const clients: net.Socket[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.destroy();
  for (const fd of fds.splice(0)) close(fd);
});

/** A listening TCP socket on 127.0.0.1 with an ephemeral port. */
function listener(): { fd: number; port: number } {
  const s = openSocket({ kind: 'stream', address: { family: 'inet', address: '127.0.0.1', port: 0 } });
  fds.push(s.fd);
  return { fd: s.fd, port: s.local.family === 'inet' ? s.local.port : 0 };
}

/** Resolves once a client's handshake with `port` is done: the connection waits in the backlog. */
function connected(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1', () => resolve());
    c.on('error', reject);
    clients.push(c);
  });
}

/** Accepts and closes everything queued on fd. */
function drain(fd: number): number {
  let n = 0;
  for (let c = accept(fd); c; c = accept(fd)) {
    close(c.fd);
    n++;
  }
  return n;
}

const indexUrl = new URL('../dist/index.js', import.meta.url).href;

/** Runs `body` as an ES module in a fresh node with the built package imported as `m`; its stdout. */
function runChild(body: string): string {
  return execFileSync(
    process.execPath,
    ['--input-type=module', '-e', `import * as m from ${JSON.stringify(indexUrl)};\n${body}`],
    {
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
}

describe('poll set', () => {
  it('200 listeners: each watcher fires for its own fd only, and again while a connection waits', async () => {
    const ls = Array.from({ length: 200 }, listener);
    const fired = new Map<number, number>();
    let pending = ls.length;
    let done!: () => void;
    const all = new Promise<void>((r) => (done = r));
    const watchers = ls.map((l) =>
      watchReadable(l.fd, (err) => {
        expect(err).toBeNull();
        const n = (fired.get(l.fd) ?? 0) + 1;
        fired.set(l.fd, n);
        // Level-triggered: not accepting yet, so it fires on the next wake-up too; the second time
        // it accepts and stops.
        if (n === 2) {
          expect(drain(l.fd)).toBe(1);
          watchers[ls.indexOf(l)]!.stop();
          if (--pending === 0) done();
        }
      }),
    );
    // Every other listener gets a connection first; the rest must not fire until theirs.
    for (let i = 0; i < ls.length; i += 2) await connected(ls[i]!.port);
    for (let i = 1; i < ls.length; i += 2) {
      expect(fired.has(ls[i]!.fd)).toBe(false);
      await connected(ls[i]!.port);
    }
    await all;
    for (const l of ls) expect(fired.get(l.fd)).toBe(2);
    expect(watchers.every((w) => !w.active)).toBe(true);
  });

  it('a callback that stops another watcher ready in the same wake-up: the other is not called', async () => {
    const a = listener();
    const b = listener();
    await connected(a.port);
    await connected(b.port);
    // Both are ready before either watcher exists: the first wake-up reports both.
    const calls: string[] = [];
    let wa: FdWatcher | undefined;
    let wb: FdWatcher | undefined;
    const first = new Promise<void>((resolve) => {
      wa = watchReadable(a.fd, () => {
        calls.push('a');
        wa!.stop();
        wb!.stop();
        resolve();
      });
      wb = watchReadable(b.fd, () => {
        calls.push('b');
        wa!.stop();
        wb!.stop();
        resolve();
      });
    });
    await first;
    // Let another loop iteration pass: a stopped watcher must stay silent.
    await new Promise((r) => setImmediate(r));
    expect(calls).toHaveLength(1);
    expect(wa!.active || wb!.active).toBe(false);
  });

  it('a watcher stopped and started again on the same fd inside a callback gets only new wake-ups', async () => {
    const a = listener();
    await connected(a.port);
    const calls: string[] = [];
    await new Promise<void>((resolve) => {
      const w1 = watchReadable(a.fd, () => {
        calls.push('old');
        w1.stop();
        const w2 = watchReadable(a.fd, () => {
          calls.push('new');
          w2.stop();
          resolve();
        });
      });
    });
    expect(calls).toEqual(['old', 'new']);
    expect(drain(a.fd)).toBe(1);
  });

  it('the same fd twice is EEXIST (libuv allows one poll handle per fd too); the first keeps working', async () => {
    const a = listener();
    const ready = new Promise<void>((resolve) => {
      const w = watchReadable(a.fd, () => {
        w.stop();
        resolve();
      });
    });
    expect(() => watchReadable(a.fd, () => {})).toThrow(expect.objectContaining({ code: 'EEXIST', syscall: 'poll' }));
    await connected(a.port);
    await ready;
  });

  it('a watcher whose fd was closed before stop(): its late stop() leaves the watcher of the reused fd number alone', async () => {
    const a = listener();
    const old = watchReadable(a.fd, () => {});
    close(a.fd);
    fds.splice(fds.indexOf(a.fd), 1);
    // POSIX gives the lowest free number: the next socket reuses it.
    const b = listener();
    expect(b.fd).toBe(a.fd);
    const fired = new Promise<void>((resolve) => {
      const w = watchReadable(b.fd, () => {
        w.stop();
        resolve();
      });
    });
    expect(old.active).toBe(false);
    old.stop();
    await connected(b.port);
    await fired;
    expect(drain(b.fd)).toBe(1);
  });

  it('worker threads: a worker that watched (stopped, active or unref()d) exits, and so does the process, cleanly', () => {
    const out = runChild(`
      import { Worker } from 'node:worker_threads';
      const body = (mode) => \`
        import * as m from \${JSON.stringify(${JSON.stringify(indexUrl)})};
        import { parentPort } from 'node:worker_threads';
        const s = m.openSocket({ kind: 'stream', address: { family: 'inet', address: '127.0.0.1', port: 0 } });
        const w = m.watchReadable(s.fd, () => {});
        if ('\${mode}' === 'stop') w.stop();
        if ('\${mode}' === 'unref') w.ref(false);
        parentPort.postMessage('\${mode}');
        if ('\${mode}' !== 'active') setTimeout(() => {}, 10);
        else setTimeout(() => process.exit(0), 10);
      \`;
      const seen = [];
      for (const mode of ['stop', 'unref', 'active']) {
        await new Promise((resolve, reject) => {
          const w = new Worker(body(mode), { eval: true, type: 'module' });
          w.on('message', (msg) => seen.push(msg));
          w.on('error', reject);
          w.on('exit', resolve);
        });
      }
      console.log(seen.join(' '));
    `);
    expect(out.trim()).toBe('stop unref active');
  });

  it('a regular file cannot be polled: EPERM', () => {
    const dir = mkdtempSync(join(tmpdir(), 'poll-set-'));
    try {
      const f = join(dir, 'f');
      writeFileSync(f, 'x');
      const fd = openSync(f, 'r');
      try {
        expect(() => watchReadable(fd, () => {})).toThrow(expect.objectContaining({ code: 'EPERM' }));
      } finally {
        closeSync(fd);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a throwing callback: the other watchers of that wake-up still run; each error reaches uncaughtException', () => {
    const out = runChild(`
      import * as net from 'node:net';
      const errors = [];
      process.on('uncaughtException', (e) => { errors.push(e.message); if (errors.length === 2) finish(); });
      const ls = [0, 1].map(() => m.openSocket({ kind: 'stream', address: { family: 'inet', address: '127.0.0.1', port: 0 } }));
      const ran = [];
      const clients = [];
      let connected = 0;
      for (const l of ls) clients.push(net.connect(l.local.port, '127.0.0.1', () => { if (++connected === 2) watchAll(); }));
      function watchAll() {
        ls.forEach((l, i) => {
          const w = m.watchReadable(l.fd, () => { ran.push(i); w.stop(); throw new Error('boom ' + i); });
        });
      }
      function finish() {
        for (const c of clients) c.destroy();
        console.log(JSON.stringify({ ran: ran.sort(), errors: errors.sort() }));
      }
    `);
    expect(JSON.parse(out)).toEqual({ ran: [0, 1], errors: ['boom 0', 'boom 1'] });
  });

  it('an active watcher keeps the process alive; an unref()d one does not, and the process exits cleanly', () => {
    // Kept alive: the unref()d timer fires only because the watcher holds the loop.
    expect(
      runChild(`
        const s = m.openSocket({ kind: 'stream', address: { family: 'inet', address: '127.0.0.1', port: 0 } });
        const w = m.watchReadable(s.fd, () => {});
        setTimeout(() => { console.log('alive'); w.stop(); }, 30).unref();
      `).trim(),
    ).toBe('alive');
    // Exits with the watcher still active (this crashed at exit with a uv_poll per watcher whose
    // close callback ran after the N-API env was gone).
    expect(
      runChild(`
        const s = m.openSocket({ kind: 'stream', address: { family: 'inet', address: '127.0.0.1', port: 0 } });
        const w = m.watchReadable(s.fd, () => {});
        const other = m.watchReadable(m.openSocket({ kind: 'stream', address: { family: 'inet', address: '127.0.0.1', port: 0 } }).fd, () => {});
        w.ref(false);
        other.ref(false);
        other.ref(true);
        other.ref(false);
        console.log('exiting');
      `).trim(),
    ).toBe('exiting');
  });

  it('a process exits cleanly with an unref()d raw uv_poll still active (the pidfd and write paths use one)', () => {
    const bindingUrl = new URL('../dist/binding.js', import.meta.url).href;
    expect(
      runChild(`
        const { binding } = await import(${JSON.stringify(bindingUrl)});
        const s = m.openSocket({ kind: 'stream', address: { family: 'inet', address: '127.0.0.1', port: 0 } });
        const h = binding().pollStart(s.fd, binding().pollEvents.READABLE, () => {});
        binding().pollRef(h, false);
        console.log('exiting');
      `).trim(),
    ).toBe('exiting');
  });
});
