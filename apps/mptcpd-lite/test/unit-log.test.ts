/**
 * The daemon's records and a service's output are two paths: a service line is one record
 * `unit[pid]: text` at info priority, whatever its text looks like (a journald `<N>` prefix, a line
 * break, one of the daemon's own messages), and the unit's ring keeps it apart from the engine's.
 */
import { describe, expect, it } from 'vitest';
import { UnitJournal } from '../src/daemon/unit-journal.js';
import { createUnitLog } from '../src/events/unit-log.js';
import { createLogger } from '../src/log.js';

function capture(journal: boolean): { lines: string[]; log: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  return { lines, log: createLogger({ journal, write: (t) => lines.push(t) }) };
}

describe('service output vs daemon records', () => {
  it('journal format: a service line keeps the daemon prefix and info priority, its own <N> is text', () => {
    const { lines, log } = capture(true);
    log.serviceOutput('echo.service', 42, '<3>echo.socket: Failed with result resources.');
    log.serviceOutput('echo.service', 42, 'two\nrecords?');
    expect(lines).toEqual([
      '<6>echo.service[42]: <3>echo.socket: Failed with result resources.\n',
      '<6>echo.service[42]: two\\nrecords?\n',
    ]);
  });

  it('plain format: the INFO word, unit and PID; a PID not known yet is ?', () => {
    const { lines, log } = capture(false);
    log.serviceOutput('a@1.service', undefined, 'hello');
    expect(lines).toEqual(['INFO    a@1.service[?]: hello\n']);
  });

  it('unit log: engine messages, daemon events and service output each go their way', () => {
    const { lines, log } = capture(false);
    const journal = new UnitJournal(10);
    const unitLog = createUnitLog(log, journal);
    unitLog.engine('warn', 'Trigger limit hit, refusing further activation.', { unit: 'x.socket' });
    unitLog.event('x.service', 'started, pid 7 (triggered by x.socket)');
    unitLog.output({ unit: 'x.service', pid: 7, text: 'x.socket: Trigger limit hit, refusing further activation.' });
    expect(lines).toEqual([
      'WARNING x.socket: Trigger limit hit, refusing further activation.\n',
      'INFO    x.service: started, pid 7 (triggered by x.socket)\n',
      'INFO    x.service[7]: x.socket: Trigger limit hit, refusing further activation.\n',
    ]);
    expect(journal.tail('x.socket', 10).map((l) => l.message)).toEqual([
      'Trigger limit hit, refusing further activation.',
    ]);
    expect(journal.tail('x.service', 10).map((l) => l.message)).toEqual([
      'started, pid 7 (triggered by x.socket)',
      'x.service[7]: x.socket: Trigger limit hit, refusing further activation.',
    ]);
  });
});
