/** The per-unit ring of log lines behind `status UNIT`: bounded per unit and in Accept=yes instances. */
import { describe, expect, it } from 'vitest';
import { UnitJournal } from '../src/daemon/unit-journal.js';

describe('UnitJournal', () => {
  it('keeps the last lines of a unit, oldest first, with an ISO 8601 time', () => {
    const j = new UnitJournal(3);
    const before = Date.now();
    for (let i = 0; i < 5; i++) j.add('a.service', 'info', `line ${i}`);
    const tail = j.tail('a.service', 10);
    expect(tail.map((l) => l.message)).toEqual(['line 2', 'line 3', 'line 4']);
    expect(Date.parse(tail[0]?.time ?? '')).toBeGreaterThanOrEqual(before - 1);
    expect(tail[0]?.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(j.tail('a.service', 1).map((l) => l.message)).toEqual(['line 4']);
    expect(j.tail('a.service', 0)).toEqual([]);
  });

  it('keeps the lines of the most recent Accept=yes instances only (a unit name per connection)', () => {
    const j = new UnitJournal(10, 3);
    j.add('echo.socket', 'info', 'listening');
    j.add('echo@.service', 'info', 'template');
    for (let i = 0; i < 10; i++) j.add(`echo@${i}-127.0.0.1:80-127.0.0.1:${5000 + i}.service`, 'info', `started ${i}`);
    expect(j.tail('echo@0-127.0.0.1:80-127.0.0.1:5000.service', 10)).toEqual([]);
    expect(j.tail('echo@6-127.0.0.1:80-127.0.0.1:5006.service', 10)).toEqual([]);
    for (const i of [7, 8, 9])
      expect(j.tail(`echo@${i}-127.0.0.1:80-127.0.0.1:${5000 + i}.service`, 10).map((l) => l.message)).toEqual([
        `started ${i}`,
      ]);
    // Units that are not instances are never evicted.
    expect(j.tail('echo.socket', 10).map((l) => l.message)).toEqual(['listening']);
    expect(j.tail('echo@.service', 10).map((l) => l.message)).toEqual(['template']);
  });
});
