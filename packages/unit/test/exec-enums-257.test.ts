/**
 * PrivateTmp=, PrivateUsers= and ProtectControlGroups= take a boolean or 257's enum words
 * (disconnected; self, identity; private, strict): a valid word is kept (a dropped one would lose a
 * sandbox setting), anything else — `full` (258), an empty value — gets 257's warning. The expected
 * lines are what `oracle.sh verify` (systemd-analyze 257) printed for this very file.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { formatDiagnostic, loadUnitFile, verify } from '../src/index.js';

const UNIT = `[Service]
ExecStart=/bin/true
PrivateTmp=bogus
PrivateUsers=bogus
ProtectControlGroups=bogus
PrivateTmp=disconnected
PrivateUsers=identity
PrivateUsers=full
ProtectControlGroups=strict
PrivateTmp=
PrivateUsers=
ProtectControlGroups=
PrivateUsers=self
ProtectControlGroups=private
`;

/** systemd-analyze verify 257 on UNIT (FILE replaced). */
const V257 = [
  'FILE:3: Failed to parse PrivateTmp=bogus, ignoring: Invalid argument',
  'FILE:4: Failed to parse PrivateUsers=bogus, ignoring: Invalid argument',
  'FILE:5: Failed to parse ProtectControlGroups=bogus, ignoring: Invalid argument',
  'FILE:8: Failed to parse PrivateUsers=full, ignoring: Invalid argument',
  'FILE:10: Failed to parse PrivateTmp=, ignoring: Invalid argument',
  'FILE:11: Failed to parse PrivateUsers=, ignoring: Invalid argument',
  'FILE:12: Failed to parse ProtectControlGroups=, ignoring: Invalid argument',
];

it('keeps the enum words 257 accepts and warns as 257 for the rest', () => {
  const dir = mkdtempSync(join(tmpdir(), 'unit-enums-'));
  const file = join(dir, 'w.service');
  writeFileSync(file, UNIT);
  expect(verify([file]).diagnostics.map(formatDiagnostic)).toEqual(V257.map((l) => l.replace('FILE', file)));
  const u = loadUnitFile(file, { searchPaths: [dir] }).unit;
  expect(u?.extra).toMatchObject({
    PrivateTmp: ['disconnected'],
    PrivateUsers: ['identity', 'self'],
    ProtectControlGroups: ['strict', 'private'],
  });
});
