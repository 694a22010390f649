/**
 * A socket trigger is a start job with the service's dependencies, as systemd 257's
 * socket_enter_running() (fixtures/v257/trigger-deps, recorded with the oracle by record.sh: a
 * connection on each socket, what the client got, the states, what ran in which order).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import type { ActivationEngine } from '../src/index.js';
import { capture, expectStateAsShown, leveled, recording, startEngine, stopEngines } from './helpers/recorded-257.js';
import { freePort } from '@mptcp/testkit/net';
import { run, waitFor } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/trigger-deps/', import.meta.url));
const CLIENT = join(FIXTURE, 'client.py');
const rec = recording(FIXTURE);

afterEach(stopEngines);

/** The fixture's units with this run's out directory, its scripts and free ports (not 257's fixed ones). */
const start = async (log = capture()) => {
  const ports = await Promise.all([1, 2, 3, 4].map(() => freePort()));
  return startEngine(FIXTURE, {
    logger: log,
    files: (f) => /\.(service|socket)$/.test(f) && f !== 'driver.service',
    edit: (text, _f, r) =>
      text
        .replaceAll('/oracle/out', r.out)
        .replaceAll('/oracle/units', FIXTURE.replace(/\/$/, ''))
        .replace(/127\.0\.0\.1:1894(\d)/, (_m, d: string) => `127.0.0.1:${ports[Number(d) - 1]}`),
  });
};

const portOf = (e: ActivationEngine, socket: string): number => e.socket(socket)?.listen[0]?.port ?? 0;

/** client.py's answer (what 257's client printed as `[reply] SOCKET: …`). */
async function reply(e: ActivationEngine, socket: string, timeoutSec: number): Promise<string> {
  const r = await run('python3', [CLIENT, String(portOf(e, socket)), String(timeoutSec)], 30_000);
  return r.stdout.trim();
}

const ran = (out: string, file: string): string[] => {
  const p = join(out, `${file}.txt`);
  return existsSync(p) ? readFileSync(p, 'utf8').trim().split('\n').filter(Boolean) : [];
};
const recordedRan = (file: string): string[][] => rec.tagged('ran', file).map((l) => l.split(' ').filter(Boolean));
const shows = (unit: string): string[] => rec.tagged('show', unit);

describe('socket triggers pull in dependencies (systemd 257, fixtures/v257/trigger-deps)', () => {
  it('Accept=no: Requires=/Wants= units run before the service (After=), at each trigger', async () => {
    const { e, out } = await start();
    const [first, second] = rec.tagged('reply', 'tr.socket');
    expect(await reply(e, 'tr.socket', 5)).toBe(first);
    await waitFor(
      () => e.unitInfo('tr.service')?.activeState === 'inactive' && e.socket('tr.socket')?.state === 'listening',
    );
    const [once, twice] = recordedRan('order');
    // trq and trw run in parallel (either order in 257), both before tr.
    expect(new Set(ran(out, 'order').slice(0, -1))).toEqual(new Set(once?.slice(0, -1)));
    expect(ran(out, 'order').at(-1)).toBe('tr');
    for (const u of ['tr.service', 'trq.service', 'trw.service']) expectStateAsShown(e.unitInfo(u), shows(u)[0]);
    expect(e.socket('tr.socket')?.state).toBe('listening');
    // trq stays active (RemainAfterExit=yes): only trw runs again.
    expect(await reply(e, 'tr.socket', 5)).toBe(second);
    await waitFor(() => ran(out, 'order').length === twice?.length, 10_000, 'the second run');
    expect(ran(out, 'order').slice(-2)).toEqual(twice?.slice(-2));
  });

  it('Accept=no, a failing Requires= unit: the service never starts, the socket retriggers until its trigger limit', async () => {
    const log = capture();
    const { e, out } = await start(log);
    expect(await reply(e, 'tf.socket', 3)).toBe(rec.tagged('reply', 'tf.socket')[0]);
    await waitFor(() => e.socket('tf.socket')?.state === 'failed', 20_000, 'tf.socket to fail');
    expectStateAsShown(e.unitInfo('tf.socket'), shows('tf.socket')[0]);
    expectStateAsShown(e.unitInfo('tf.service'), shows('tf.service')[0]);
    expectStateAsShown(e.unitInfo('tff.service'), shows('tff.service')[0]);
    // tff ran until its start limit (5 in 10 s), then each retrigger failed at once.
    expect(ran(out, 'tff')).toEqual(recordedRan('tff')[0]);
    // Then `Failed with result 'trigger-limit-hit'.` (socket_enter_dead()), recorded with 257's kmsg
    // ratelimit off: with it on, that line was the first one past 200 in 5 s, and dropped.
    const lines = leveled(log).filter((l) => /\btf\.(service|socket)\b/.test(l));
    const recorded = rec.lines
      .filter((l) => /^\[log\] (warning|notice|err): /.test(l) && /\btf\.(service|socket)\b/.test(l))
      .map((l) => l.replace(/^\[log\] (warning|notice): /, 'warn: ').replace(/^\[log\] err: /, 'error: '));
    expect(lines).toEqual(recorded);
    expect(await reply(e, 'tf.socket', 3)).toBe(rec.tagged('reply', 'tf.socket')[1]);
  });

  it('Accept=yes: each instance pulls in its Requires= unit first', async () => {
    // The accept thread (accept-fast.ts) spawns later instances without their start job: not yet
    // for units that pullsInUnits() (dependencies.ts); the regular path here.
    process.env.MPTCP_ACTIVATION_FAST_ACCEPT = '0';
    onTestFinished(() => void delete process.env.MPTCP_ACTIVATION_FAST_ACCEPT);
    const { e, out } = await start();
    const [a, b] = rec.tagged('reply', 'ty.socket');
    expect(await reply(e, 'ty.socket', 5)).toBe(a);
    expect(await reply(e, 'ty.socket', 5)).toBe(b);
    await waitFor(() => ran(out, 'order').length === 4, 10_000, `both instances (${ran(out, 'order').join(' ')})`);
    expect(ran(out, 'order')).toEqual(recordedRan('order')[2]);
    expectStateAsShown(e.unitInfo('ty.socket'), shows('ty.socket')[0]);
  });

  it('Accept=yes, a failing Requires= unit: the connection is closed, `Dependency failed for …`, the socket listens', async () => {
    const log = capture();
    const { e, out } = await start(log);
    const [a, b] = rec.tagged('reply', 'tyf.socket');
    expect(await reply(e, 'tyf.socket', 3)).toBe(a);
    expect(await reply(e, 'tyf.socket', 3)).toBe(b);
    expect(ran(out, 'tyff')).toEqual(recordedRan('tyff').at(-1));
    expect(ran(out, 'order')).toEqual([]);
    expectStateAsShown(e.unitInfo('tyf.socket'), shows('tyf.socket')[1]);
    const ours = log.lines.filter((l) => /^Dependency failed for tyf@/.test(l.text)).map((l) => l.text);
    const recorded = rec.lines.filter((l) => / Dependency failed for tyf@/.test(l));
    expect(ours).toHaveLength(recorded.length);
    // The instance's name is the connection's (ports differ from the recording's); its description is
    // its peer (service_set_socket_fd(): the template has none), ` - 127.0.0.1:PORT`.
    const shape = (t: string) => t.replace(/^\[log\] \w+: /, '').replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:P');
    expect(ours.map(shape)).toEqual(recorded.map(shape));
  });
});
