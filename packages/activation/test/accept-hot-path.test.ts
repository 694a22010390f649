/**
 * What the Accept=yes hot path skips must not change what a service sees: inetd-mode stderr goes
 * where systemd puts it (StandardError=inherit duplicates stdout, the connection), StandardError=
 * journal still reaches the daemon's log, and instances of a template without specifiers (parsed
 * once, shared) each get their own name.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ActivationEngine } from '../src/index.js';
import type { LogFields, Logger } from '../src/logger.js';
import { python3, need } from './helpers/capability.js';
import { loadUnits } from './helpers/load.js';
import { clientOnce, loopback, unitDir, waitFor } from './helpers/run.js';

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

function outputLogger(): Logger & { lines: Array<{ message: string; fields: LogFields | undefined }> } {
  const lines: Array<{ message: string; fields: LogFields | undefined }> = [];
  const keep = (message: string, fields?: LogFields): void => {
    lines.push({ message, fields });
  };
  return { lines, debug: keep, info: keep, warn: keep, error: keep };
}

describe('Accept=yes hot path', () => {
  it('StandardInput=socket, StandardError unset: stderr is the connection (inherit = stdout), nothing captured', async (ctx) => {
    need(ctx, python3);
    const dir = unitDir({
      'err.socket': `[Socket]\nListenStream=${await loopback()}\nAccept=yes\n`,
      'err@.service': "[Service]\nExecStart=/bin/sh -c 'echo to-stderr >&2; exec cat'\nStandardInput=socket\n",
    });
    const log = outputLogger();
    engine = new ActivationEngine({ logger: log, serviceOutput: 'log' });
    expect((await engine.start(await loadUnits(dir))).failed).toEqual([]);
    const port = engine.socket('err.socket')?.listen[0]?.port as number;
    const reply = await clientOnce(port, { tcp: true, send: 'x\n' });
    expect(reply.received).toBe('to-stderr\nx\n');
    await waitFor(() => engine?.socket('err.socket')?.connections === 0, 10_000, 'the instance to exit');
    expect(log.lines.filter((l) => l.fields?.output === true)).toEqual([]);
  });

  it('StandardInput=socket, StandardError=journal: stderr reaches the log with the unit and PID', async (ctx) => {
    need(ctx, python3);
    const dir = unitDir({
      'jr.socket': `[Socket]\nListenStream=${await loopback()}\nAccept=yes\n`,
      'jr@.service':
        "[Service]\nExecStart=/bin/sh -c 'echo to-log >&2; exec cat'\nStandardInput=socket\nStandardError=journal\n",
    });
    const log = outputLogger();
    engine = new ActivationEngine({ logger: log, serviceOutput: 'log' });
    expect((await engine.start(await loadUnits(dir))).failed).toEqual([]);
    const port = engine.socket('jr.socket')?.listen[0]?.port as number;
    const started: number[] = [];
    engine.on('started', (e) => started.push(e.pid));
    const reply = await clientOnce(port, { tcp: true, send: 'y\n' });
    expect(reply.received).toBe('y\n');
    const line = await waitFor(() => log.lines.find((l) => l.fields?.output === true), 10_000, 'the captured line');
    expect(line.message).toBe('to-log');
    expect(line.fields?.unit).toMatch(/^jr@0-.*\.service$/);
    expect(line.fields?.pid).toBe(started[0]);
  });

  it('a template without specifiers: every instance has its own name and runs the same command', async (ctx) => {
    need(ctx, python3);
    const dir = unitDir({
      'same.socket': `[Socket]\nListenStream=${await loopback()}\nAccept=yes\n`,
      'same@.service': '[Service]\nExecStart=/bin/sh -c \'echo "$REMOTE_PORT"\'\nStandardInput=socket\n',
    });
    engine = new ActivationEngine({ logger: outputLogger() });
    expect((await engine.start(await loadUnits(dir))).failed).toEqual([]);
    const port = engine.socket('same.socket')?.listen[0]?.port as number;
    const names: string[] = [];
    engine.on('started', (e) => names.push(e.service));
    for (let n = 0; n < 3; n++) {
      const reply = await clientOnce(port, { tcp: true });
      expect(reply.received).toBe(`${reply.local_port}\n`);
    }
    await waitFor(
      () => names.length === 3 && engine?.socket('same.socket')?.connections === 0,
      10_000,
      'three instances',
    );
    expect(names.map((n) => n.replace(/-.*/, ''))).toEqual(['same@0', 'same@1', 'same@2']);
    expect(new Set(names).size).toBe(3);
  });
});
