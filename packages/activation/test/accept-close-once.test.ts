/**
 * The Accept=yes connection fd is closed exactly once: by the addon right after clone() when the
 * main spawn took it over (closeAfterSpawn), by the engine otherwise — success, a step failing in
 * the child after clone, a failure before any spawn, and a clone that never happened.
 */
import { readdirSync } from 'node:fs';
import type { SpawnProcessOptions, SpawnedProcess } from '@mptcp/native';
import { afterEach, describe, expect, it } from 'vitest';
import { type FdHandOff, type NativeSpawn, execCommand } from '../src/exec.js';
import { ActivationEngine } from '../src/index.js';
import type { Logger } from '../src/logger.js';
import { need, python3 } from './helpers/capability.js';
import { loadUnits } from './helpers/load.js';
import { clientOnce, loopback, unitDir, waitFor } from './helpers/run.js';

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

/** A NativeSpawn whose async spawn answers as told, recording the options it got. */
function fakeNative(answer: (o: SpawnProcessOptions) => Promise<SpawnedProcess>): NativeSpawn & {
  seen: SpawnProcessOptions[];
} {
  const seen: SpawnProcessOptions[] = [];
  return {
    seen,
    spawnProcess: () => {
      throw new Error('sync spawn not expected');
    },
    spawnProcessAsync: (o) => (seen.push(o), answer(o)),
    watchExit: () => ({ stop: () => undefined, ref: () => undefined }),
    killPid: () => false,
    close: () => undefined,
  };
}

function failure(syscall: string, code: string): Error {
  return Object.assign(new Error(`${syscall} ${code}`), { syscall, code });
}

const command = { path: '/bin/true', argv: ['/bin/true'], raw: '/bin/true' } as unknown as Parameters<
  typeof execCommand
>[0]['command'];

describe('FdHandOff in the native launcher', () => {
  it('is passed as closeAfterSpawn and marked closed once the addon had a child (exec or a later step failed)', async () => {
    for (const answer of [
      () => Promise.resolve({ pid: 1234, pidfd: -1 }),
      () => Promise.reject(failure('execve', 'ENOENT')),
      () => Promise.reject(failure('chdir', 'ENOENT')),
    ]) {
      const native = fakeNative(answer);
      const handOff: FdHandOff = { fd: 42, closed: false };
      const child = execCommand({ command, env: {}, socketStdio: 42, native, handOff });
      await child.spawned;
      expect(native.seen[0]?.closeAfterSpawn).toEqual([42]);
      expect(handOff.closed).toBe(true);
    }
  });

  it("stays the caller's when the spawn failed before clone (mmap) and is never handed twice", async () => {
    const native = fakeNative(() => Promise.reject(failure('mmap', 'ENOMEM')));
    const handOff: FdHandOff = { fd: 43, closed: false };
    await execCommand({ command, env: {}, socketStdio: 43, native, handOff }).spawned;
    expect(native.seen[0]?.closeAfterSpawn).toEqual([43]);
    expect(handOff.closed).toBe(false);
    const again = fakeNative(() => Promise.resolve({ pid: 1, pidfd: -1 }));
    const done: FdHandOff = { fd: 44, closed: true };
    await execCommand({ command, env: {}, socketStdio: 44, native: again, handOff: done }).spawned;
    expect(again.seen[0]?.closeAfterSpawn).toBeUndefined();
  });
});

describe('Accept=yes connection closed exactly once (real engine)', () => {
  const quiet: Logger = {
    debug: () => undefined,
    info: () => undefined,
    warn: () => undefined,
    error: () => undefined,
  };

  for (const [name, service] of [
    ['exec', "ExecStart=/bin/sh -c 'echo hi'\n"],
    ['chdir fails in the child', "ExecStart=/bin/sh -c 'echo hi'\nWorkingDirectory=/nonexistent-c2-close-once\n"],
    ['ExecStartPre= fails (no main spawn)', "ExecStartPre=/bin/false\nExecStart=/bin/sh -c 'echo hi'\n"],
  ] as const) {
    it(`${name}: the client sees the end, no fd is left, no EBADF`, async (ctx) => {
      need(ctx, python3);
      const dir = unitDir({
        'once.socket': `[Socket]\nListenStream=${await loopback()}\nAccept=yes\n`,
        'once@.service': `[Service]\n${service}StandardInput=socket\n`,
      });
      engine = new ActivationEngine({ logger: quiet });
      expect((await engine.start(await loadUnits(dir))).failed).toEqual([]);
      const port = engine.socket('once.socket')?.listen[0]?.port as number;
      // One connection first: the Accept=yes fast path (accept-fast.ts) opens its thread's epoll and
      // eventfd on first use, once per process; they belong in the baseline.
      expect(['hi\n', '']).toContain((await clientOnce(port, { tcp: true })).received);
      await waitFor(() => engine?.socket('once.socket')?.connections === 0, 20_000, 'the first instance to end');
      const fdsBefore = readdirSync('/proc/self/fd').length;
      for (let n = 0; n < 5; n++) {
        const reply = await clientOnce(port, { tcp: true });
        expect(['hi\n', '']).toContain(reply.received);
      }
      await waitFor(() => engine?.socket('once.socket')?.connections === 0, 20_000, 'the instances to end');
      await waitFor(() => readdirSync('/proc/self/fd').length <= fdsBefore, 20_000, 'the connection fds to be closed');
    });
  }
});
