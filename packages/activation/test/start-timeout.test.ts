/**
 * TimeoutStartSec= covers every phase a start can wait in — ExecStartPre=, the wait for the process
 * (Type=oneshot here), ExecStartPost= — even though a start that waits for nothing sets no timer.
 * Each timeout ends the start with result `timeout` and systemd's words; a hung control process is
 * signalled too, not waited for.
 */
import { describe, expect, it } from 'vitest';
import type { LogFields, Logger } from '../src/logger.js';
import { ServiceProcess, type ServiceExit } from '../src/service-process.js';
import { cmd, service } from './helpers/units.js';

function warnings(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const none = (): void => undefined;
  return { lines, debug: none, info: none, error: none, warn: (m: string, _f?: LogFields) => lines.push(m) };
}

const SLEEP = cmd(['/bin/sleep', '30']);

async function timedOut(
  extra: Parameters<typeof service>[1],
): Promise<{ exit: ServiceExit; log: string[]; p: ServiceProcess }> {
  const log = warnings();
  const p = new ServiceProcess(
    service('t.service', { timeoutStartUsec: 300_000, timeoutStopUsec: 2_000_000, ...extra }),
    {
      logger: log,
      output: 'ignore',
    },
  );
  const exit = new Promise<ServiceExit>((resolve) => p.once('exit', resolve));
  await p.start().catch(() => undefined);
  return { exit: await exit, log: log.lines, p };
}

describe('TimeoutStartSec=', () => {
  it('ExecStartPre= that hangs: start-pre operation timed out', async () => {
    const log = warnings();
    const p = new ServiceProcess(
      service('pre.service', { timeoutStartUsec: 300_000, execStartPre: [SLEEP], execStart: [cmd(['/bin/true'])] }),
      { logger: log, output: 'ignore' },
    );
    const started = p.start();
    await expect(started).rejects.toThrow();
    expect(log.lines).toContain('start-pre operation timed out. Terminating.');
    // The hung ExecStartPre= was ended by KillSignal= (not waited for), and the result says why.
    expect(p.state).toBe('failed');
    expect(p.lastResult).toBe('timeout');
  });

  it('Type=oneshot that hangs: start operation timed out, result timeout', async () => {
    const { exit, log, p } = await timedOut({ type: 'oneshot', execStart: [SLEEP] });
    expect(log).toContain('start operation timed out. Terminating.');
    expect(exit.result).toBe('timeout');
    expect(p.lastResult).toBe('timeout');
  });

  it('ExecStartPost= that hangs: start-post operation timed out, result timeout', async () => {
    const { exit, log } = await timedOut({ execStart: [SLEEP], execStartPost: [SLEEP] });
    expect(log).toContain('start-post operation timed out. Terminating.');
    expect(exit.result).toBe('timeout');
  });
});
