/**
 * ConditionDirectoryNotEmpty= on a directory that holds only entries 257's hidden_or_backup_file()
 * skips (`lost+found`, the quota files, `.name`, `name~`, backup suffixes): empty, the unit skipped.
 * Recorded with the oracle (fixtures/v257/dir-not-empty: record.sh, cases.txt).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { capture, expectStateAsShown, recording, startEngine, stopEngines } from './helpers/recorded-257.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/dir-not-empty/', import.meta.url));
const rec = recording(FIXTURE);

/** cases.txt: each case's name and the entries of its directory (`name/` a directory). */
const CASES = readFileSync(join(FIXTURE, 'cases.txt'), 'utf8')
  .split('\n')
  .filter((l) => l && !l.startsWith('#'))
  .map((l) => {
    const [name = '', ...entries] = l.split(' ');
    return { name, entries };
  });

afterEach(stopEngines);

describe('ConditionDirectoryNotEmpty= skips hidden and backup entries as 257 (fixtures/v257/dir-not-empty)', () => {
  it.each(CASES.map((c) => [c.name, c.entries.join(' ') || '(nothing)', c] as const))(
    '%s.service: a directory of %s',
    async (name, _what, { entries }) => {
      const unit = `${name}.service`;
      const log = capture();
      const { e, out } = await startEngine(FIXTURE, {
        files: [unit],
        logger: log,
        prefix: 'dir-not-empty-',
        edit: (text, _file, run) => text.replaceAll('/run/dne-', `${run.out}/dne-`),
        setup: (run) => {
          const dir = join(run.out, `dne-${name}`);
          mkdirSync(dir);
          for (const entry of entries)
            if (entry.endsWith('/')) mkdirSync(join(dir, entry));
            else writeFileSync(join(dir, entry), '');
        },
      });
      expect(rec.tagged('rc', unit)).toEqual(['0']);
      await e.startUnit(unit);
      const info = e.unitInfo(unit);
      const shown = expectStateAsShown(info, rec.tagged('show', unit)[0]);
      expect(info?.conditionResult ? 'yes' : 'no').toBe(shown.ConditionResult);
      // 257's skip line, our directory named as 257's /run.
      const skipped = (l: string): boolean => l.startsWith(`${unit} skipped`);
      expect(
        log.lines.filter((l) => skipped(l.text)).map((l) => `${l.level}: ${l.text.replaceAll(`${out}/`, '/run/')}`),
      ).toEqual(
        rec.lines.flatMap((l) => {
          const m = /^\[log\] (\w+): (.*)$/.exec(l);
          return m && skipped(m[2] as string) ? [`${m[1]}: ${m[2]}`] : [];
        }),
      );
    },
  );
});
