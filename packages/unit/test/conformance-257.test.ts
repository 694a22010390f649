/**
 * verify() against systemd 257's `systemd-analyze verify`, recorded by scripts/record-257.mjs into
 * test/fixtures/v257/ (every directive with every value-parser error class, every Listen kind, both
 * Accept modes, drop-ins, specifiers, templates, masked/aliased/missing units). For each unit: the
 * exact lines and rc with --recursive-errors=no ("strict"), and the rc without the option ("default").
 * The random units of the recording are the differential test's (differential.test.ts).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DELIBERATE, expected } from './helpers/deliberate-257.js';
import { loadRecording, ours, V257_DIR } from './helpers/v257.js';

const recording = loadRecording();

describe(`verify() matches ${recording.recordedWith}`, () => {
  for (const [name, units] of Object.entries(recording.cases)) {
    if (name === 'random') continue;
    describe(name, () => {
      it.each(Object.keys(units))('%s', (file) => {
        const { want, got } = expected(name, file, units[file]!, ours(join(V257_DIR, name), file));
        expect(got.lines).toEqual(want.lines);
        expect(got.strict, 'rc with --recursive-errors=no').toBe(want.strict);
        expect(got.default, 'rc without --recursive-errors').toBe(want.default);
      });
    });
  }

  it('every deliberate difference still applies to a recorded unit', () => {
    for (const d of DELIBERATE)
      for (const [c, f] of d.units) expect(recording.cases[c]?.[f], `${c}/${f} (${d.reason})`).toBeDefined();
  });
});
