/**
 * The AF_UNIX stream primitives a daemon's control socket is made of, without node:net:
 * listenUnixStream (node mode exact whatever the umask), connectUnixStream (errno names a dead
 * node, a live one connects), shutdownWrite (the peer reads the data, then end-of-file) and
 * watchEvents (one watcher for both directions).
 */
import { mkdtempSync, readSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  accept,
  close,
  connectUnixStream,
  listenUnixStream,
  peerCredentials,
  shutdownWrite,
  watchEvents,
  type FdEvents,
} from '../src/index.js';

let dir: string;
const fds: number[] = [];
const track = (fd: number): number => (fds.push(fd), fd);

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'unix-stream-'));
});
afterEach(() => {
  for (const fd of fds.splice(0)) {
    try {
      close(fd);
    } catch {
      // closed by the test
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

/** Resolves with the events of the first callback. */
function nextEvents(fd: number, want: FdEvents): Promise<FdEvents> {
  return new Promise((resolve, reject) => {
    const w = watchEvents(fd, want, (err, ready) => {
      w.stop();
      if (err) reject(err);
      else resolve(ready);
    });
  });
}

describe('listenUnixStream / connectUnixStream', () => {
  it('creates the node with exactly the mode asked for, whatever the umask', () => {
    const old = process.umask(0);
    try {
      const p = join(dir, 'a.sock');
      track(listenUnixStream(p, { mode: 0o600 }));
      expect(statSync(p).mode & 0o777).toBe(0o600);
      expect(statSync(p).isSocket()).toBe(true);
    } finally {
      process.umask(old);
    }
  });

  it('refuses an existing node (EADDRINUSE) and names the path', () => {
    const p = join(dir, 'taken');
    writeFileSync(p, '');
    expect(() => listenUnixStream(p, { mode: 0o600 })).toThrow(expect.objectContaining({ code: 'EADDRINUSE' }));
  });

  it('connects to a live listener; a node nobody listens on is ECONNREFUSED, a missing one ENOENT', () => {
    const p = join(dir, 'b.sock');
    const l = track(listenUnixStream(p, { mode: 0o600 }));
    const c = track(connectUnixStream(p));
    const a = accept(l);
    expect(a).not.toBeNull();
    track(a!.fd);
    expect(peerCredentials(a!.fd).pid).toBe(process.pid);
    close(l);
    fds.splice(fds.indexOf(l), 1);
    expect(() => connectUnixStream(p)).toThrow(expect.objectContaining({ code: 'ECONNREFUSED' }));
    expect(() => connectUnixStream(join(dir, 'none'))).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(c).toBeGreaterThan(2);
  });
});

describe('watchEvents / shutdownWrite', () => {
  it('reports writable and readable from one watcher; after shutdownWrite the peer reads the data, then EOF', async () => {
    const p = join(dir, 'c.sock');
    const l = track(listenUnixStream(p, { mode: 0o600 }));
    const c = track(connectUnixStream(p));
    expect(await nextEvents(l, { readable: true, writable: false })).toEqual({ readable: true, writable: false });
    const s = track(accept(l)!.fd);
    // Nothing to read yet: only writable fires.
    expect(await nextEvents(s, { readable: true, writable: true })).toEqual({ readable: false, writable: true });
    writeSync(s, 'reply\n');
    shutdownWrite(s);
    expect((await nextEvents(c, { readable: true, writable: false })).readable).toBe(true);
    const buf = Buffer.alloc(64);
    expect(buf.toString('utf8', 0, readSync(c, buf))).toBe('reply\n');
    expect(readSync(c, buf)).toBe(0);
    // The other direction still works after a half-close.
    writeSync(c, 'more');
    expect((await nextEvents(s, { readable: true, writable: false })).readable).toBe(true);
    expect(buf.toString('utf8', 0, readSync(s, buf))).toBe('more');
  });

  it('a peer that closes makes the watcher readable (read() then returns 0)', async () => {
    const p = join(dir, 'd.sock');
    const l = track(listenUnixStream(p, { mode: 0o600 }));
    const c = connectUnixStream(p);
    const s = track(accept(l)!.fd);
    close(c);
    expect((await nextEvents(s, { readable: true, writable: false })).readable).toBe(true);
    expect(readSync(s, Buffer.alloc(8))).toBe(0);
  });
});
