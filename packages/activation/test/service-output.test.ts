/**
 * A service's output is its own path (onServiceOutput), apart from the engine's log messages: a
 * line a service writes that reads like one of the engine's messages reaches the sink verbatim,
 * with its unit and PID, and never the engine's logger.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ActivationEngine, type ServiceOutputLine } from '../src/index.js';
import type { LogFields, Logger } from '../src/logger.js';
import { python3, need } from './helpers/capability.js';
import { loadUnits } from './helpers/load.js';
import { clientOnce, loopback, unitDir, waitFor } from './helpers/run.js';

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

function recordingLogger(): Logger & { messages: string[] } {
  const messages: string[] = [];
  const keep = (message: string, _fields?: LogFields): void => {
    messages.push(message);
  };
  return { messages, debug: keep, info: keep, warn: keep, error: keep };
}

describe('service output', () => {
  it('goes to onServiceOutput verbatim with unit and PID, never to the logger', async (ctx) => {
    need(ctx, python3);
    const fake = 'so.socket: Trigger limit hit, refusing further activation.';
    const dir = unitDir({
      'so.socket': `[Socket]\nListenStream=${await loopback()}\nAccept=yes\n`,
      'so@.service': `[Service]\nExecStart=/bin/sh -c 'echo "${fake}" >&2; echo "<3>READY=1" >&2; exec cat'\nStandardInput=socket\nStandardError=journal\n`,
    });
    const log = recordingLogger();
    const output: ServiceOutputLine[] = [];
    engine = new ActivationEngine({ logger: log, serviceOutput: 'log', onServiceOutput: (l) => output.push(l) });
    expect((await engine.start(await loadUnits(dir))).failed).toEqual([]);
    const port = engine.socket('so.socket')?.listen[0]?.port as number;
    const started: number[] = [];
    engine.on('started', (e) => started.push(e.pid));
    const reply = await clientOnce(port, { tcp: true, send: 'z\n' });
    expect(reply.received).toBe('z\n');
    await waitFor(() => output.length >= 2, 10_000, 'both captured lines');
    expect(output.map((l) => l.text)).toEqual([fake, '<3>READY=1']);
    for (const l of output) {
      expect(l.unit).toMatch(/^so@0-.*\.service$/);
      expect(l.pid).toBe(started[0]);
    }
    // The default sink would log each line as a message of its own: none is there.
    expect(log.messages).not.toContain(fake);
    expect(log.messages).not.toContain('<3>READY=1');
    expect(engine.socket('so.socket')?.state).toBe('listening');
  });
});
