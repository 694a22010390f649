/**
 * Which native launcher runs: a start nothing queues behind (an Accept=no service, a control
 * process) clones on the event loop's thread, so the child is exec'd without waiting for a pool
 * thread; an Accept=yes instance's spawn (it carries the connection's FdHandOff) keeps the pool
 * thread so the loop goes on accepting.
 */
import type { SpawnProcessOptions, SpawnedProcess } from '@mptcp/native';
import { afterEach, describe, expect, it } from 'vitest';
import { type NativeSpawn, execCommand } from '../src/exec.js';
import { ActivationEngine, loadNative } from '../src/index.js';
import type { Logger } from '../src/logger.js';
import { need, python3 } from './helpers/capability.js';
import { loadUnits } from './helpers/load.js';
import { clientOnce, loopback, unitDir, waitFor } from './helpers/run.js';

/** Counts the launcher calls of a NativeSpawn, passing them on to `inner`. */
function counting(inner: NativeSpawn): NativeSpawn & { calls: { sync: number; async: number } } {
  const calls = { sync: 0, async: 0 };
  const asyncSpawn = inner.spawnProcessAsync;
  return {
    ...inner,
    calls,
    spawnProcess: (o) => (calls.sync++, inner.spawnProcess(o)),
    ...(asyncSpawn ? { spawnProcessAsync: (o: SpawnProcessOptions) => (calls.async++, asyncSpawn(o)) } : {}),
  };
}

const fake: NativeSpawn = {
  spawnProcess: (): SpawnedProcess => ({ pid: 4321, pidfd: -1 }),
  spawnProcessAsync: () => Promise.resolve({ pid: 1234, pidfd: -1 }),
  watchExit: () => ({ stop: () => undefined, ref: () => undefined }),
  killPid: () => false,
  close: () => undefined,
};

const command = { path: '/bin/true', argv: ['/bin/true'], raw: '/bin/true' } as unknown as Parameters<
  typeof execCommand
>[0]['command'];

describe('native launcher choice', () => {
  it('blocking: the synchronous clone, the pid known at once', async () => {
    const native = counting(fake);
    const child = execCommand({ command, env: {}, native, blocking: true });
    expect(child.pid).toBe(4321);
    expect(await child.spawned).toBeUndefined();
    expect(native.calls).toEqual({ sync: 1, async: 0 });
  });

  it('otherwise (and always with a hand-off) the pool thread', async () => {
    const native = counting(fake);
    await execCommand({ command, env: {}, native }).spawned;
    await execCommand({ command, env: {}, socketStdio: 7, native, handOff: { fd: 7, closed: false } }).spawned;
    expect(native.calls).toEqual({ sync: 0, async: 2 });
  });
});

describe('Accept=no service start (real engine)', () => {
  let engine: ActivationEngine | undefined;
  afterEach(async () => {
    await engine?.stop();
    engine = undefined;
  });
  const quiet: Logger = {
    debug: () => undefined,
    info: () => undefined,
    warn: () => undefined,
    error: () => undefined,
  };

  it('clones on the event loop thread and serves the connection that started it', async (ctx) => {
    need(ctx, python3);
    const real = await loadNative();
    if (!real.spawn) return ctx.skip('the native launcher is off (MPTCP_ACTIVATION_SPAWN=node)');
    const spawn = counting(real.spawn);
    const dir = unitDir({
      'blk.socket': `[Socket]\nListenStream=${await loopback()}\n`,
      'blk.service':
        '[Service]\nExecStart=python3 -c "import socket; s=socket.socket(fileno=3); c,_=s.accept(); c.sendall(b\'ok\\\\n\'); c.close()"\n',
    });
    engine = new ActivationEngine({ logger: quiet, native: { ...real, spawn } });
    expect((await engine.start(await loadUnits(dir))).failed).toEqual([]);
    const port = engine.socket('blk.socket')?.listen[0]?.port as number;
    expect((await clientOnce(port, { tcp: true })).received).toBe('ok\n');
    await waitFor(
      () => engine?.status().services.find((x) => x.name === 'blk.service')?.state === 'inactive',
      20_000,
      'the service to exit',
    );
    expect(spawn.calls).toEqual({ sync: 1, async: 0 });
  });
});
