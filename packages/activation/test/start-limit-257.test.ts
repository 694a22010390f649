/**
 * A start refused by the service's start limit, as systemd 257 shows it: the service's Result=
 * keeps the failure of its last run (exit-code) and becomes start-limit-hit only when that run
 * succeeded; the socket that kept triggering it fails with service-start-limit-hit. Compared with
 * fixtures/v257/start-limit (record.sh: `systemctl show -p ActiveState,SubState,Result,NRestarts`,
 * the Active: line of `systemctl status` and the manager's log lines, recorded with the oracle).
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { ActivationEngine, UnitInfo } from '../src/index.js';
import { jobFailedMessage } from '../src/job-messages.js';
import { type RecordingLogger, testLogger } from './helpers/log.js';
import { startEngine, stopEngines } from './helpers/recorded-257.js';
import { loopback, waitFor } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/start-limit/', import.meta.url));
const recorded = readFileSync(join(FIXTURE, 'expected.txt'), 'utf8').split('\n').filter(Boolean);

/** The recorded `[show] UNIT K=V …` line of `unit` (the last one). */
function shown(unit: string): Record<string, string> {
  const line = recorded.filter((l) => l.startsWith(`[show] ${unit} `)).at(-1);
  if (!line) throw new Error(`no [show] line for ${unit}`);
  return Object.fromEntries(
    line
      .slice(`[show] ${unit} `.length)
      .split(' ')
      .map((kv) => kv.split('=') as [string, string]),
  );
}

/** The recorded status line `Active: failed (Result: …)` of `unit`. */
function statusLine(unit: string): string {
  const line = recorded.filter((l) => l.startsWith(`[status] ${unit} `)).at(-1);
  if (!line) throw new Error(`no [status] line for ${unit}`);
  return line.slice(`[status] ${unit} `.length);
}

/** The manager's lines about `unit` from the first "Start request repeated too quickly." on. */
function limitLines(lines: readonly string[], unit: string): string[] {
  const own = lines.filter((l) => l.startsWith(`${unit}: `));
  const i = own.findIndex((l) => l.endsWith('Start request repeated too quickly.'));
  return i < 0 ? [] : own.slice(i, i + 2);
}

/** What our `show`/`status` say of a unit, in the recording's terms. */
function ours(info: UnitInfo | undefined): Record<string, string> {
  if (!info) throw new Error('unit not found');
  return {
    ActiveState: info.activeState,
    SubState: info.subState,
    Result: info.result,
    ...(info.service ? { NRestarts: String(info.service.restarts) } : {}),
  };
}
const activeLine = (info: UnitInfo | undefined): string =>
  info ? `Active: ${info.activeState} (Result: ${info.result})` : '';

afterEach(stopEngines);

async function start(files: string[], addr?: string): Promise<{ e: ActivationEngine; log: RecordingLogger }> {
  const log = testLogger();
  const { e } = await startEngine(FIXTURE, {
    files,
    logger: log,
    prefix: 'start-limit-',
    edit: (text) => (addr ? text.replace('127.0.0.1:18932', addr) : text),
  });
  return { e, log };
}

const failed = (e: ActivationEngine, name: string) => () => e.unitInfo(name)?.activeState === 'failed';

describe('a start refused by the start limit (systemd 257)', () => {
  it('ExecStartPre= kept failing: the service keeps exit-code, the socket fails with service-start-limit-hit', async () => {
    const addr = await loopback();
    const { e, log } = await start(['limsock.socket', 'limsock.service'], addr);
    const client = net.connect({ port: Number(addr.split(':')[1]), host: '127.0.0.1' });
    client.on('error', () => undefined);
    await waitFor(failed(e, 'limsock.socket'), 30_000, 'limsock.socket failed');
    client.destroy();
    const { NRestarts: _n, ...svc } = shown('limsock.service');
    expect(ours(e.unitInfo('limsock.service'))).toMatchObject(svc);
    expect(ours(e.unitInfo('limsock.socket'))).toEqual(shown('limsock.socket'));
    expect(activeLine(e.unitInfo('limsock.service'))).toBe(statusLine('limsock.service'));
    expect(activeLine(e.unitInfo('limsock.socket'))).toBe(statusLine('limsock.socket'));
    const logged = recorded.filter((l) => l.startsWith('[log] ')).map((l) => l.slice(6));
    expect(limitLines(log.warnings, 'limsock.service')).toEqual(limitLines(logged, 'limsock.service'));
    expect(log.warnings).not.toContain("limsock.service: Failed with result 'start-limit-hit'.");
  }, 60_000);

  it.each(['again.service', 'onfail.service'])(
    '%s restarted until the limit: Result= as 257 (start-limit-hit only after a successful run)',
    async (name) => {
      const { e, log } = await start([name]);
      await e.startUnit(name).catch(() => undefined);
      await waitFor(failed(e, name), 30_000, `${name} failed`);
      expect(ours(e.unitInfo(name))).toEqual(shown(name));
      expect(activeLine(e.unitInfo(name))).toBe(statusLine(name));
      const logged = recorded.filter((l) => l.startsWith('[log] ')).map((l) => l.slice(6));
      expect(limitLines(log.warnings, name)).toEqual(limitLines(logged, name));
      // A manual start at the limit is refused the same way; the result stays.
      // systemctl's answer, chosen by the Result= that stays (exit-code, or start-limit-hit).
      await expect(e.startUnit(name)).rejects.toThrow(jobFailedMessage(name, shown(name).Result));
      expect(ours(e.unitInfo(name))).toEqual(shown(name));
    },
    60_000,
  );
});
