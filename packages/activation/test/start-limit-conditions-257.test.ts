/**
 * Which starts count against StartLimitIntervalSec=/StartLimitBurst=, as systemd 257 (unit.c
 * unit_start() tests Condition*=/Assert*= before service_can_start() tests the start limit; ExecCondition=
 * runs inside the start, after it): a start that a condition skips is not counted, one that
 * ExecCondition= skips is. Compared with fixtures/v257/start-limit-conditions (record.sh: `systemctl
 * start` repeated, systemctl's answer, show, the manager's lines, recorded with the oracle).
 */
import { existsSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { ActivationEngine } from '../src/index.js';
import { fixtureEngine, oursShown, recordedLog, shownKeys } from './helpers/lifecycle-257.js';
import { recording } from './helpers/recorded-257.js';
import { loopback, tmp, waitFor } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/start-limit-conditions/', import.meta.url));
const rec = recording(FIXTURE);
const KEYS = ['ActiveState', 'SubState', 'Result', 'ConditionResult'] as const;
const KEPT =
  /skipped|Skipped due|Condition check resulted|Start request repeated|Failed with result|Failed to start|Trigger limit/;

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

/** `systemctl start`'s first line and rc as driver.sh wrote them (` rc=0` for a quiet success). */
async function start(e: ActivationEngine, name: string): Promise<string> {
  try {
    await e.startUnit(name);
    return ' rc=0';
  } catch (err) {
    return `${(err as Error).message} rc=1`;
  }
}

describe('the start limit and conditions (systemd 257)', () => {
  it('a start skipped by ConditionPathExists= is not counted: 10 skipped, then the 3rd run hits StartLimitBurst=2', async () => {
    const name = 'condcount.service';
    const flag = join(tmp('condflag-'), 'flag');
    const f = await fixtureEngine(FIXTURE, [name], { '/run/condflag': flag });
    engine = f.e;
    const answers: string[] = [];
    const shows: Array<Record<string, string>> = [];
    for (let i = 0; i < 10; i++) answers.push(await start(f.e, name));
    shows.push(oursShown(f.e.unitInfo(name), KEYS));
    writeFileSync(flag, '');
    expect(existsSync(flag)).toBe(true);
    for (let i = 0; i < 3; i++) {
      answers.push(await start(f.e, name));
      shows.push(oursShown(f.e.unitInfo(name), KEYS));
    }
    expect(answers).toEqual(rec.tagged('start', name));
    expect(shows).toEqual(rec.tagged('show', name).map((_, i) => shownKeys(rec, name, KEYS, i)));
    expect(f.out().filter((l) => l.startsWith('[ran] '))).toEqual(rec.lines.filter((l) => l === `[ran] ${name}`));
    expect(f.log.lines.filter((l) => KEPT.test(l)).map((l) => l.replace(flag, '/run/condflag'))).toEqual(
      recordedLog(rec, name, KEPT),
    );
  }, 60_000);

  it('a start skipped by ExecCondition= is counted: the 3rd is refused, and stays skipped (exec-condition, dead)', async () => {
    const name = 'execcond.service';
    const f = await fixtureEngine(FIXTURE, [name]);
    engine = f.e;
    const answers: string[] = [];
    const shows: Array<Record<string, string>> = [];
    for (let i = 0; i < 3; i++) {
      answers.push(await start(f.e, name));
      shows.push(oursShown(f.e.unitInfo(name), KEYS));
    }
    expect(answers).toEqual(rec.tagged('start', name));
    expect(shows).toEqual(rec.tagged('show', name).map((_, i) => shownKeys(rec, name, KEYS, i)));
    expect(f.out()).toEqual([]);
    expect(f.log.lines.filter((l) => KEPT.test(l))).toEqual(recordedLog(rec, name, KEPT));
  }, 60_000);

  it('an automatic restart does not test Condition*= again: the restarts run although the first run removed the flag', async () => {
    const name = 'condrestart.service';
    const flag = join(tmp('condrestart-'), 'flag');
    const f = await fixtureEngine(FIXTURE, [name], { '/run/condrestart-flag': flag });
    engine = f.e;
    writeFileSync(flag, '');
    const keys = [...KEYS, 'NRestarts'];
    const answer = await start(f.e, name);
    await waitFor(() => f.e.unitInfo(name)?.activeState === 'failed', 30_000, `${name} failed`).catch((err: Error) => {
      throw new Error(`${err.message}: ours ${JSON.stringify(oursShown(f.e.unitInfo(name), keys))}`);
    });
    expect(answer).toBe(rec.tagged('start', name)[0]);
    expect(oursShown(f.e.unitInfo(name), keys)).toEqual(shownKeys(rec, name, keys));
    expect(f.out()).toEqual(rec.lines.filter((l) => l === `[ran] ${name}`));
    expect(f.log.lines.filter((l) => KEPT.test(l))).toEqual(recordedLog(rec, name, KEPT));
  }, 60_000);

  it('a socket whose service a condition skips triggers until its trigger limit; the service never hits its start limit', async () => {
    const addr = await loopback();
    const f = await fixtureEngine(FIXTURE, ['condsock.socket', 'condsock.service'], { '127.0.0.1:18971': addr });
    engine = f.e;
    const client = net.connect({ host: '127.0.0.1', port: Number(addr.split(':')[1]) });
    client.on('error', () => undefined);
    await waitFor(() => f.e.unitInfo('condsock.socket')?.activeState === 'failed', 30_000, 'condsock.socket failed');
    client.destroy();
    for (const u of ['condsock.socket', 'condsock.service']) {
      const keys = u.endsWith('.socket') ? (['ActiveState', 'SubState', 'Result'] as const) : KEYS;
      expect(oursShown(f.e.unitInfo(u), keys)).toEqual(shownKeys(rec, u, keys));
    }
    for (const u of ['condsock.socket', 'condsock.service'])
      expect(f.log.lines.filter((l) => KEPT.test(l) && l.startsWith(`${u}`))).toEqual(
        recordedLog(rec, u, KEPT).filter((l) => l.startsWith(u)),
      );
  }, 60_000);
});
