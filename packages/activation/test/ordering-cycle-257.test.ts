/**
 * Ordering cycles as systemd 257's transaction_verify_order() handles them (fixtures/v257/ordering-cycle,
 * recorded with the oracle by record.sh): a cycle through a unit pulled in by Wants= loses that unit's
 * job (the anchor runs, the wanted unit does not); a cycle of Requires= units refuses the start
 * (`systemctl start`: `Transaction order is cyclic.`; a socket trigger: the socket fails 'resources').
 * 257 walks its jobs in hashmap order, so the unit its cycle lines start with varies between runs (of
 * two recordings, the first began the cs and ws cycles at cd and wd, the second at cs and ws, as ours
 * does); the lines are compared with that unit and the other one of the cycle named J and O.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { ActivationEngine } from '../src/index.js';
import {
  type CapturingLogger,
  capture,
  expectStateAsShown,
  leveled,
  recording,
  startEngine,
  stopEngines,
} from './helpers/recorded-257.js';
import { freePort } from '@mptcp/testkit/net';
import { run, waitFor } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/ordering-cycle/', import.meta.url));
const CLIENT = join(FIXTURE, 'client.py');
const rec = recording(FIXTURE);

afterEach(stopEngines);

/** The fixture's units with this run's out directory and free ports (not 257's fixed ones). */
const start = async (log: CapturingLogger) => {
  const ports = await Promise.all([1, 2, 3].map(() => freePort()));
  return startEngine(FIXTURE, {
    logger: log,
    prefix: 'ordering-cycle-257-',
    files: (f) => /\.(service|socket)$/.test(f) && f !== 'driver.service',
    edit: (text, _f, r) =>
      text
        .replaceAll('/oracle/out', r.out)
        .replaceAll('/oracle/units', FIXTURE.replace(/\/$/, ''))
        .replace(/127\.0\.0\.1:1895(\d)/, (_m, d: string) => `127.0.0.1:${ports[Number(d) - 1]}`),
  });
};

const portOf = (e: ActivationEngine, socket: string): number => e.socket(socket)?.listen[0]?.port ?? 0;

/** client.py's answer (257's `[reply] SOCKET: …`). */
async function reply(e: ActivationEngine, socket: string, timeoutSec: number): Promise<string> {
  const r = await run('python3', [CLIENT, String(portOf(e, socket)), String(timeoutSec)], 30_000);
  // A reset that came before client.py's send (it fails there, outside its try): the same reset.
  if (r.stdout.trim() === '' && /ConnectionResetError|BrokenPipeError/.test(r.stderr)) return 'reset';
  return r.stdout.trim();
}

/**
 * How a connection closed unanswered reads: EOF when it was closed before the client's line came,
 * a reset when after (the kernel resets a socket closed with unread data); which one is timing.
 */
const closed = (answer: string): string => (answer === 'EOF' ? 'reset' : answer);

const ran = (out: string, file: string): string => {
  const p = join(out, `${file}.txt`);
  return existsSync(p) ? readFileSync(p, 'utf8').trim().split('\n').join(' ') : '';
};
const shows = (unit: string): string[] => rec.tagged('show', unit);

/** An Accept=yes instance's name without its connection's numbers. */
const instance = (t: string): string => t.replace(/ya@\d+-127\.0\.0\.1:\d+-127\.0\.0\.1:\d+\.service/g, 'ya@N.service');

/**
 * A cycle's lines with the unit they are logged for named J and the other unit of the cycle O (which
 * one 257 starts with is its hashmap's choice); the deleted job keeps its name.
 */
function cycleShape(lines: string[]): string[] {
  const first = lines.map(instance).find((l) => / Found ordering cycle on /.test(l));
  const m = first && /^\w+: ([^:]+): Found ordering cycle on ([^/]+)\/start$/.exec(first);
  if (!m) return lines;
  const [, j, o] = m as unknown as [string, string, string];
  return lines.map((l) =>
    instance(l)
      .split(/(Job [^/]+\/start deleted)/)
      .map((part) => (part.startsWith('Job ') ? part : part.replaceAll(j, 'J').replaceAll(o, 'O')))
      .join(''),
  );
}

/** 257's warning and err lines, as leveled() words them, in blocks from one `Found ordering cycle` to the next. */
const recordedBlocks: string[][] = (() => {
  const blocks: string[][] = [];
  for (const l of rec.lines) {
    const m = /^\[log\] (warning|notice|err): (.*)$/.exec(l);
    if (!m) continue;
    const line = `${m[1] === 'err' ? 'error' : 'warn'}: ${m[2]}`;
    if (/ Found ordering cycle on /.test(line)) blocks.push([]);
    blocks.at(-1)?.push(line);
  }
  return blocks;
})();

/** The block whose cycle names `unit`. */
const recordedCycle = (unit: string): string[] =>
  recordedBlocks.find((b) => b[0]?.includes(unit) ?? false) ?? [`no recorded cycle for ${unit}`];

/** systemctl start's answer (without 257's hint line) and whether it failed. */
async function started(e: ActivationEngine, unit: string): Promise<{ message?: string; rc: number; code?: string }> {
  return e.startUnit(unit).then(
    () => ({ rc: 0 }),
    (err: Error & { code?: string }) => ({ message: `Failed to start ${unit}: ${err.message}`, rc: 1, code: err.code }),
  );
}

describe('ordering cycles (systemd 257, fixtures/v257/ordering-cycle)', () => {
  it('a cycle through Wants=: the wanted job is deleted, the anchor runs', async () => {
    const log = capture();
    const { e, out } = await start(log);
    expect((await started(e, 'ka.service')).rc).toBe(Number(rec.tagged('rc', 'ka.service')[0]));
    expect(ran(out, 'k')).toBe(rec.tagged('ran', 'k')[0]);
    expect(leveled(log).filter((l) => /\bk[ab]\.service\b/.test(l))).toEqual(
      rec.lines
        .filter((l) => /^\[log\] (warning|err): .*\bk[ab]\.service\b/.test(l))
        .map((l) => l.replace(/^\[log\] warning: /, 'warn: ').replace(/^\[log\] err: /, 'error: ')),
    );
    expectStateAsShown(e.unitInfo('ka.service'), shows('ka.service')[0]);
    expectStateAsShown(e.unitInfo('kb.service'), shows('kb.service')[0]);
  });

  it('a cycle of Requires= units: the start is refused, nothing runs', async () => {
    const log = capture();
    const { e, out } = await start(log);
    const got = await started(e, 'ua.service');
    expect(got.code).toBe('JOB_REFUSED');
    expect(got.message).toBe(rec.tagged('start', 'ua.service')[0]);
    expect(got.rc).toBe(Number(rec.tagged('rc', 'ua.service')[0]));
    expect(cycleShape(leveled(log))).toEqual(cycleShape(recordedCycle('ua.service')));
    expect(ran(out, 'u')).toBe('');
    expectStateAsShown(e.unitInfo('ua.service'), shows('ua.service')[0]);
    expectStateAsShown(e.unitInfo('ub.service'), shows('ub.service')[0]);
  });

  it('a socket trigger into a Requires= cycle: `Failed to queue service startup job`, the socket fails', async () => {
    const log = capture();
    const { e, out } = await start(log);
    log.lines.length = 0;
    expect(await reply(e, 'cs.socket', 3)).toBe(rec.tagged('reply', 'cs.socket')[0]);
    await waitFor(() => e.socket('cs.socket')?.state === 'failed', 10_000, 'cs.socket to fail');
    expect(cycleShape(leveled(log))).toEqual(cycleShape(recordedCycle('cs.service')));
    for (const u of ['cs.socket', 'cs.service', 'cd.service']) expectStateAsShown(e.unitInfo(u), shows(u)[0]);
    expect(ran(out, 'order')).toBe(rec.tagged('ran', 'order')[0]);
  });

  it('a socket trigger into a Wants= cycle: the wanted job is deleted, the service answers', async () => {
    const log = capture();
    const { e, out } = await start(log);
    log.lines.length = 0;
    expect(await reply(e, 'ws.socket', 5)).toBe(rec.tagged('reply', 'ws.socket')[0]);
    await waitFor(() => e.unitInfo('ws.service')?.activeState === 'inactive', 10_000, 'ws.service to end');
    const recorded = recordedCycle('ws.service');
    expect(cycleShape(leveled(log))).toEqual(cycleShape(recorded));
    // The job deleted is the wanted unit's, whichever end 257 began with.
    expect(leveled(log).find((l) => / deleted to break /.test(l))).toMatch(/Job wd\.service\/start deleted/);
    expect(recorded.find((l) => / deleted to break /.test(l))).toMatch(/Job wd\.service\/start deleted/);
    expect(ran(out, 'order')).toBe(rec.tagged('ran', 'order')[1]);
    for (const u of ['ws.socket', 'ws.service', 'wd.service']) expectStateAsShown(e.unitInfo(u), shows(u)[0]);
  });

  it('an Accept=yes instance in a Requires= cycle: the connection is closed, the socket fails', async () => {
    const log = capture();
    const { e, out } = await start(log);
    log.lines.length = 0;
    expect(closed(await reply(e, 'ya.socket', 3))).toBe(closed(rec.tagged('reply', 'ya.socket')[0] ?? ''));
    await waitFor(() => e.socket('ya.socket')?.state === 'failed', 10_000, 'ya.socket to fail');
    expect(cycleShape(leveled(log))).toEqual(cycleShape(recordedCycle('ya@')));
    for (const u of ['ya.socket', 'yb.service']) expectStateAsShown(e.unitInfo(u), shows(u)[0]);
    expect(ran(out, 'order')).toBe(rec.tagged('ran', 'order')[2]);
  });
});
