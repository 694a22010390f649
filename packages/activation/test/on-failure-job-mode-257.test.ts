/**
 * OnFailureJobMode= as systemd 257 (fixtures/v257/on-failure-job-mode, recorded with the oracle by
 * record.sh: units that fail, each with a handler and a job mode; which handlers, and which of their
 * dependencies, ran; the manager's refusals).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { capture, recording, startEngine, stopEngines } from './helpers/recorded-257.js';
import { waitFor } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/on-failure-job-mode/', import.meta.url));
const rec = recording(FIXTURE);
afterEach(stopEngines);

const ran = (out: string): string[] => {
  const p = join(out, 'ran.txt');
  return existsSync(p) ? readFileSync(p, 'utf8').trim().split('\n').filter(Boolean) : [];
};
const recordedRan = (unit: string): string[] => (rec.tagged('ran', unit)[0] ?? '').split(' ').filter(Boolean);
/** 257's warnings about UNIT's OnFailure= jobs. */
const refusals = (unit: string): string[] =>
  rec.lines
    .filter((l) => l.startsWith(`[log] warning: ${unit}: Failed to enqueue`))
    .map((l) => l.replace(/^\[log\] warning: /, ''));

describe('OnFailureJobMode= (systemd 257, fixtures/v257/on-failure-job-mode)', () => {
  it.each([
    ['fr', 'replace'],
    ['ff', 'fail'],
    ['fv', 'replace-irreversibly'],
    ['fd', 'ignore-dependencies: the handler runs without its failing Requires='],
    ['fq', 'ignore-requirements: the same'],
    ['fn', 'replace: the handler`s Requires= fails, it does not run'],
    ['fi', 'isolate: refused, the handler may not be isolated'],
    ['ft', 'triggering: refused, only valid for stop'],
  ])('%s.service (%s)', async (u) => {
    const log = capture();
    const { e, out } = await startEngine(FIXTURE, { logger: log });
    await e.startUnit(`${u}.service`);
    const want = recordedRan(`${u}.service`);
    await waitFor(
      () =>
        log.lines.some((l) => /Triggering OnFailure=/.test(l.text)) &&
        (want.length === 0 ? log.lines.some((l) => /Failed to enqueue/.test(l.text)) : ran(out).length >= want.length),
      10_000,
      `${u}'s handler`,
    );
    // Whatever else would run has had the time a handler takes.
    await waitFor(
      () => [...e.listUnits()].every((i) => !/activating|deactivating/.test(i.activeState)),
      10_000,
      'quiet',
    );
    expect(ran(out)).toEqual(want);
    expect(log.lines.filter((l) => /Failed to enqueue/.test(l.text)).map((l) => l.text)).toEqual(
      refusals(`${u}.service`),
    );
  });

  it('restart-dependencies: the active unit requiring the handler restarts', async () => {
    const { e, out } = await startEngine(FIXTURE);
    await e.startUnit('frd.service');
    await waitFor(() => ran(out).join(' ') === 'frs frd', 10_000, 'frs and frd');
    const pid = e.unitInfo('frd.service')?.service?.pid;
    await e.startUnit('fs.service');
    await waitFor(() => ran(out).length === 3, 10_000, `frd to restart (${ran(out).join(' ')})`);
    expect(ran(out).slice(2)).toEqual(recordedRan('fs.service'));
    await waitFor(() => e.unitInfo('frd.service')?.activeState === 'active', 10_000, 'frd active');
    expect(e.unitInfo('frd.service')?.service?.pid).not.toBe(pid);
  });
});
