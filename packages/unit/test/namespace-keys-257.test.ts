/**
 * ProtectSystem=, ProtectHome= and the namespace path lists (ReadWritePaths=, ReadOnlyPaths=,
 * InaccessiblePaths=, ExecPaths=, NoExecPaths=) are checked at load as 257 checks them: a bad enum
 * word or an empty value is warned about and ignored, each bad path word (relative, not normalized,
 * an unknown specifier) is reported and skipped, a syntax error drops the rest; `/../x` is `/x`
 * (path_simplify()). The expected lines are what `oracle.sh verify` (systemd-analyze 257) printed for
 * these very files.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { formatDiagnostic, verify } from '../src/index.js';

const CASES: Array<{ unit: string; v257: string[] }> = [
  {
    unit: `[Service]
ExecStart=/bin/true
ReadWritePaths=/tmp/rv/rw/../../../usr
ReadWritePaths=relative/path
ReadWritePaths=-/var/lib/ok +/srv/ok "/with space/ok"
ProtectHome=bogus
ProtectSystem=maybe
ProtectSystem=strict
ProtectHome=read-only
ProtectHome=
ProtectSystem=
InaccessiblePaths=-relative "unterminated
ReadOnlyPaths=%Z/x
ExecPaths=/usr/bin -/opt//bin/
NoExecPaths=/.. /ok
`,
    v257: [
      'FILE:3: ReadWritePaths= path is not normalized, ignoring: /tmp/rv/rw/../../../usr',
      'FILE:4: ReadWritePaths= path is not absolute, ignoring: relative/path',
      'FILE:6: Failed to parse ProtectHome=bogus, ignoring: Invalid argument',
      'FILE:7: Failed to parse ProtectSystem=maybe, ignoring: Invalid argument',
      'FILE:10: Failed to parse ProtectHome=, ignoring: Invalid argument',
      'FILE:11: Failed to parse ProtectSystem=, ignoring: Invalid argument',
      'FILE:12: InaccessiblePaths= path is not absolute, ignoring: relative',
      'FILE:12: Failed to extract first word, ignoring: -relative "unterminated',
      'FILE:13: Failed to resolve unit specifiers in %Z/x: Invalid slot',
    ],
  },
  {
    unit: `[Service]
ExecStart=/bin/true
NoExecPaths=/../x
NoExecPaths=/a/../b
NoExecPaths=/..
NoExecPaths=//../../y
WorkingDirectory=/../w
`,
    v257: ['FILE:4: NoExecPaths= path is not normalized, ignoring: /a/../b'],
  },
];

it.each(CASES.map((c, i) => [i, c] as const))('case %i: the warnings of systemd-analyze verify 257', (_i, c) => {
  const dir = mkdtempSync(join(tmpdir(), 'ns-keys-'));
  const file = join(dir, 'ns.service');
  writeFileSync(file, c.unit);
  const r = verify([file]);
  const lines = r.diagnostics
    .filter((d) => !d.notice)
    .map((d) => formatDiagnostic(d).replace(file, 'FILE'))
    // The 257 output above is of the directives alone (the unit loads and has nothing else to say).
    .filter((l) => l.startsWith('FILE:'));
  expect(lines).toEqual(c.v257);
});
