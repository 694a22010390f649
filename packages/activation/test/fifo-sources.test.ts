/**
 * A FIFO as LoadCredential= source or as StandardInput=/StandardOutput= file: never stops the
 * daemon's event loop (the audit's cred-fifo and stdio-fifo: a blocking open() in the daemon froze
 * every unit and the control socket). Each bad start is followed by a connection to another unit's
 * socket, which must answer while nobody has opened the FIFOs' other ends yet: a rescuer process
 * opens them (O_RDWR, which never waits) only after a long delay, so that a daemon that does block
 * is freed, and the test then fails on the rescuer's marker instead of hanging.
 *
 * What the unit gets, against 257 (fixtures/v257/credentials-limits): a FIFO credential fails the
 * process 243/CREDENTIALS at once (257: waits, then 'timeout'); an output FIFO without a reader fails
 * 209/STDOUT with ENXIO (257: the process waits in open() for one, `active (running)`); an input FIFO
 * without a writer opens and the service reads end-of-file (257: waits in open() for a writer). With
 * the other end there, as in 257, the service gets it, blocking (O_NONBLOCK cleared).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivationEngine } from '../src/index.js';
import { need, python3, root } from './helpers/capability.js';
import { loadUnits } from './helpers/load.js';
import { testLogger } from './helpers/log.js';
import { clientOnce, freePort, run, tmp, unitDir, waitFor } from './helpers/run.js';

let engine: ActivationEngine | undefined;
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  await engine?.stop();
  engine = undefined;
});

function background(script: string): ChildProcess {
  const c = spawn('sh', ['-c', script], { stdio: 'ignore' });
  children.push(c);
  return c;
}

const FLAGS = `python3 -c 'import fcntl, os, sys; print(sys.argv[1], fcntl.fcntl(int(sys.argv[2]), fcntl.F_GETFL) & os.O_NONBLOCK)'`;

describe('FIFO sources and stdio files', () => {
  it(
    'fail or run that start alone; another socket and the engine keep answering meanwhile',
    { timeout: 180_000 },
    async (ctx) => {
      need(ctx, root, python3);
      const d = tmp('fifo-src-');
      const f = (n: string): string => join(d, n);
      const r = await run('mkfifo', [f('cred'), f('in'), f('out'), f('inw'), f('outr')]);
      expect(r.code, r.stderr).toBe(0);
      const port = await freePort();
      const sfx = `-f${process.pid}`;
      const dir = unitDir({
        'other.socket': `[Socket]\nListenStream=127.0.0.1:${port}\nAccept=yes\n`,
        'other@.service': '[Service]\nStandardInput=socket\nStandardOutput=socket\nExecStart=/bin/echo other-ok\n',
        [`cred${sfx}.service`]: `[Service]\nLoadCredential=c:${f('cred')}\nExecStart=/bin/true\n`,
        [`in${sfx}.service`]: `[Service]\nType=oneshot\nStandardInput=file:${f('in')}\nStandardOutput=append:${f('seen')}\nExecStart=/bin/sh -c 'echo "[in] $(cat)"'\n`,
        [`out${sfx}.service`]: `[Service]\nType=oneshot\nStandardOutput=file:${f('out')}\nExecStart=/bin/echo hi\n`,
        [`inw${sfx}.service`]: `[Service]\nType=oneshot\nStandardInput=file:${f('inw')}\nStandardOutput=append:${f('seen')}\nExecStart=/bin/sh -c '${FLAGS.replaceAll("'", '"')} stdin 0; echo "[inw] $(cat)"'\n`,
        [`outr${sfx}.service`]: `[Service]\nType=oneshot\nStandardOutput=file:${f('outr')}\nExecStart=/bin/sh -c '${FLAGS.replaceAll("'", '"')} stdout 1'\n`,
      });
      // Frees a daemon that blocks in open() (the defect), long after a working one has answered.
      background(
        `sleep 60; touch '${f('rescued')}'; exec 3<>'${f('cred')}' 4<>'${f('in')}' 5<>'${f('out')}'; sleep 30`,
      );
      const log = testLogger();
      const e = new ActivationEngine({ logger: log });
      engine = e;
      await e.start(await loadUnits(dir));
      const stillServing = async (what: string): Promise<void> => {
        expect((await clientOnce(port, { tcp: true })).received, what).toBe('other-ok\n');
        expect(e.unitInfo(`cred${sfx}.service`), what).toBeDefined();
        expect(existsSync(f('rescued')), `${what}: the daemon waited for the FIFO's other end`).toBe(false);
      };

      await e.startUnit(`cred${sfx}.service`).catch(() => undefined);
      await stillServing('LoadCredential= of a FIFO');
      expect(e.unitInfo(`cred${sfx}.service`)).toMatchObject({ activeState: 'failed', result: 'exit-code' });
      expect(log.errors).toContain(`cred${sfx}.service: Failed to set up credentials: Protocol error`);

      await e.startUnit(`out${sfx}.service`).catch(() => undefined);
      await stillServing('StandardOutput=file: of a FIFO without a reader');
      expect(e.unitInfo(`out${sfx}.service`)).toMatchObject({ activeState: 'failed', result: 'exit-code' });
      expect(log.errors).toContain(`out${sfx}.service: Failed to set up standard output: No such device or address`);

      await e.startUnit(`in${sfx}.service`).catch(() => undefined);
      await stillServing('StandardInput=file: of a FIFO without a writer');
      await waitFor(() => e.unitInfo(`in${sfx}.service`)?.activeState === 'inactive', 30_000, 'in.service done');

      // With the other end there, the service gets the FIFO as 257 gives it: blocking.
      background(`echo data > '${f('inw')}'`);
      const reader = spawn('cat', [f('outr')], { stdio: ['ignore', 'pipe', 'ignore'] });
      children.push(reader);
      let read = '';
      reader.stdout?.on('data', (b: Buffer) => (read += b.toString()));
      const readerDone = new Promise((resolve) => reader.on('exit', resolve));
      await e.startUnit(`inw${sfx}.service`);
      await e.startUnit(`outr${sfx}.service`);
      await readerDone;
      expect(read).toBe('stdout 0\n');
      await waitFor(() => existsSync(f('seen')) && readFileSync(f('seen'), 'utf8').includes('[inw]'), 30_000, 'inw');
      expect(readFileSync(f('seen'), 'utf8').split('\n').filter(Boolean)).toEqual(['[in] ', 'stdin 0', '[inw] data']);
      await stillServing('after all');
    },
  );
});
