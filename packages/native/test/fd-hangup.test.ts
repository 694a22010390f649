/**
 * The fd-store primitives (src/addon_fdstore.cc, src/fd-hangup.ts): a hang-up watch that sees
 * EPOLLHUP on real pipes and sockets but not data, and same-open-file detection.
 */
import { closeSync, constants, mkdtempSync, openSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { binding } from '../src/binding.js';
import { close, duplicateFd, mkfifo, sameOpenFile, socketPair, watchHangup, type HangupEvent } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'native-fdstore-'));
let fifos = 0;
/** Open fds of this file, closed in afterAll: an fd closed by a test leaves the set first (its number may be reused). */
const opened = new Set<number>();

function own(...fds: number[]): void {
  for (const fd of fds) opened.add(fd);
}

function shut(fd: number): void {
  opened.delete(fd);
  closeSync(fd);
}

/** A pipe (a FIFO opened at both ends): [read end, write end]. */
function pipe(): [number, number] {
  const path = join(dir, `fifo-${fifos++}`);
  mkfifo(path, 0o600);
  const r = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const w = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
  own(r, w);
  return [r, w];
}

afterAll(() => {
  for (const fd of opened) closeSync(fd);
});

function reports(): { next: () => Promise<Array<[number, HangupEvent]>>; push: (fd: number, ev: HangupEvent) => void } {
  let waiting: ((v: Array<[number, HangupEvent]>) => void) | undefined;
  let batch: Array<[number, HangupEvent]> = [];
  return {
    push(fd, ev) {
      batch.push([fd, ev]);
      // Everything one readiness of the epoll fd reported arrives in the same tick.
      queueMicrotask(() => {
        if (!waiting || batch.length === 0) return;
        const w = waiting;
        waiting = undefined;
        const b = batch;
        batch = [];
        w(b);
      });
    },
    next() {
      return new Promise((resolve) => {
        waiting = resolve;
      });
    },
  };
}

describe('watchHangup', () => {
  it('reports a pipe whose last writer closed (EPOLLHUP), not one that only received data', async () => {
    const got = reports();
    const watch = watchHangup((fd, ev) => got.push(fd, ev));
    const [quietR, quietW] = pipe();
    const [hupR, hupW] = pipe();
    expect(watch.add(quietR)).toBe('watched');
    expect(watch.add(hupR)).toBe('watched');
    expect(watch.size).toBe(2);
    const next = got.next();
    writeSync(quietW, 'data does not wake an events-0 watch\n');
    shut(hupW);
    expect(await next).toEqual([[hupR, 'EPOLLHUP']]);
    expect(watch.size).toBe(1);
    watch.close();
    expect(watch.size).toBe(0);
    shut(quietW);
  });

  it('reports a socket whose peer closed; remove() before close stops the watch of that fd', async () => {
    const got = reports();
    const watch = watchHangup((fd, ev) => got.push(fd, ev));
    const [a, peerA] = socketPair();
    const [b, peerB] = socketPair();
    own(a, b);
    watch.add(a);
    watch.add(b);
    watch.remove(b);
    watch.remove(b);
    const next = got.next();
    own(peerA, peerB);
    opened.delete(peerB);
    close(peerB);
    opened.delete(peerA);
    close(peerA);
    expect(await next).toEqual([[a, 'EPOLLHUP']]);
    expect(watch.size).toBe(0);
  });

  it("a regular file cannot be polled: 'not-pollable' (EPERM), nothing watched", () => {
    const watch = watchHangup(() => {
      throw new Error('no event expected');
    });
    const f = openSync(join(dir, 'plain'), 'w');
    own(f);
    expect(watch.add(f)).toBe('not-pollable');
    expect(watch.size).toBe(0);
    watch.close();
  });

  it('an fd that is not open is a typed error naming epoll_ctl', () => {
    const watch = watchHangup(() => undefined);
    expect(() => watch.add(100_000)).toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'epoll_ctl' }));
    watch.close();
  });
});

describe('sameOpenFile', () => {
  it('a dup is the same open file; a second open() of the same file and the two ends of a pipe are not', () => {
    const path = join(dir, 'same');
    const a = openSync(path, 'w');
    const again = openSync(path, 'r+');
    const copy = binding().dup(a);
    own(a, again, copy);
    expect(copy).toBeGreaterThan(2);
    expect(sameOpenFile(a, a)).toBe(true);
    expect(sameOpenFile(a, copy)).toBe(true);
    expect(sameOpenFile(copy, a)).toBe(true);
    expect(sameOpenFile(a, again)).toBe(false);
    const [r, w] = pipe();
    expect(sameOpenFile(r, w)).toBe(false);
    const [s1, s2] = socketPair();
    own(s1, s2);
    expect(sameOpenFile(s1, s2)).toBe(false);
  });

  it('duplicateFd() is the same open file, close-on-exec, and keeps a pipe open after the original closed', async () => {
    const [r, w] = pipe();
    const [other, otherW] = pipe();
    const copy = duplicateFd(w);
    own(copy);
    expect(sameOpenFile(w, copy)).toBe(true);
    expect(binding().fdFlags(copy)).toMatchObject({ cloexec: true });
    const got = reports();
    const watch = watchHangup((fd, ev) => got.push(fd, ev));
    watch.add(r);
    watch.add(other);
    let next = got.next();
    shut(w);
    shut(otherW);
    // Only the pipe without a copy of its writer hung up.
    expect(await next).toEqual([[other, 'EPOLLHUP']]);
    writeSync(copy, 'x');
    next = got.next();
    shut(copy);
    expect(await next).toEqual([[r, 'EPOLLHUP']]);
  });

  it('a closed fd is EBADF', () => {
    const [r, w] = pipe();
    shut(w);
    shut(r);
    const f = openSync(join(dir, 'open'), 'w');
    own(f);
    // r's number may be taken again by f itself: compare with a number surely free.
    expect(() => sameOpenFile(f, 100_000)).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });
});
