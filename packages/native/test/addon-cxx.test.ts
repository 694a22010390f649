/**
 * The addon's C++ contracts from issue 11: exact modes without a process-wide umask (mknodat,
 * AF_UNIX bind), netlink that never waits on the event loop, one return convention (-errno).
 */
import { lstatSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { close, mkfifo, mknod, netlinkRequest, netlinkRequestAsync, openSocket } from '../src/index.js';
import { ctrlGetFamily, NETLINK_GENERIC, NLM_F_DUMP, NLM_F_REQUEST } from './helpers/netlink.js';

const dir = mkdtempSync(join(tmpdir(), 'native-cxx-'));

describe('mknod / mkfifo', () => {
  it('creates a FIFO with exactly the mode asked, whatever the process umask, and leaves the umask alone', () => {
    const umask = process.umask(0o027);
    try {
      for (const mode of [0o666, 0o640, 0o600, 0o1777]) {
        const path = join(dir, `fifo-${mode.toString(8)}`);
        mkfifo(path, mode);
        const st = lstatSync(path);
        expect(st.isFIFO()).toBe(true);
        expect(st.mode & 0o7777).toBe(mode);
      }
      expect(process.umask()).toBe(0o027);
    } finally {
      process.umask(umask);
    }
  });

  it('EEXIST for an existing path (nothing replaced), ENOENT for a missing directory: typed errors naming mknodat', () => {
    const path = join(dir, 'fifo-once');
    mkfifo(path);
    expect(() => mkfifo(path)).toThrow(expect.objectContaining({ code: 'EEXIST', syscall: 'mknodat' }));
    expect(() => mknod(join(dir, 'no', 'such'), 'regular')).toThrow(
      expect.objectContaining({ code: 'ENOENT', syscall: 'mknodat' }),
    );
    expect(() => mkfifo(join(dir, 'bad'), 0o17777)).toThrow(TypeError);
  });

  it('a regular file node, relative to a directory fd', async () => {
    const { openSync, closeSync } = await import('node:fs');
    const dirfd = openSync(dir, 'r');
    try {
      mknod('plain', 'regular', { dirfd, mode: 0o604 });
    } finally {
      closeSync(dirfd);
    }
    const st = lstatSync(join(dir, 'plain'));
    expect(st.isFile()).toBe(true);
    expect(st.mode & 0o777).toBe(0o604);
  });
});

describe('AF_UNIX bind with a mode', () => {
  it('the socket node gets exactly SocketMode although the process umask would clear bits; the umask is untouched', () => {
    const umask = process.umask(0o077);
    try {
      for (const mode of [0o666, 0o660, 0o600]) {
        const path = join(dir, `sock-${mode.toString(8)}`);
        const s = openSocket({ kind: 'stream', address: { family: 'unix', path, abstract: false }, socketMode: mode });
        try {
          expect(lstatSync(path).isSocket()).toBe(true);
          expect(lstatSync(path).mode & 0o777).toBe(mode);
        } finally {
          close(s.fd);
        }
      }
      expect(process.umask()).toBe(0o077);
    } finally {
      process.umask(umask);
    }
  });
});

describe('netlink never waits on the event loop', () => {
  it('netlinkRequestAsync returns what netlinkRequest returns (a multi-datagram dump)', async () => {
    const sync = netlinkRequest(NETLINK_GENERIC, ctrlGetFamily(NLM_F_REQUEST | NLM_F_DUMP, 11));
    const async_ = await netlinkRequestAsync(NETLINK_GENERIC, ctrlGetFamily(NLM_F_REQUEST | NLM_F_DUMP, 11));
    expect(sync.length).toBeGreaterThan(1);
    expect(async_.map((m) => m.length)).toEqual(sync.map((m) => m.length));
  });

  it('a request the kernel ignores (no NLM_F_REQUEST, no ACK): the synchronous call fails at once with ETIMEDOUT instead of blocking; the async one waits on a pool thread while timers run', async () => {
    expect(() => netlinkRequest(NETLINK_GENERIC, ctrlGetFamily(0, 12))).toThrow(
      expect.objectContaining({ code: 'ETIMEDOUT', syscall: 'netlink' }),
    );
    const order: string[] = [];
    const pending = netlinkRequestAsync(NETLINK_GENERIC, ctrlGetFamily(0, 13)).then(
      () => order.push('settled'),
      (err: unknown) => {
        order.push('settled');
        expect(err).toMatchObject({ code: 'ETIMEDOUT', syscall: 'netlink' });
      },
    );
    await new Promise((resolve) => setTimeout(resolve, 0));
    order.push('timer');
    await pending;
    expect(order).toEqual(['timer', 'settled']);
  }, 30_000);
});
