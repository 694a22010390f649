#!/usr/bin/env node
// Records `systemd-analyze verify` output (systemd on this machine) for every unit in
// test/fixtures/oracle/ into test/fixtures/oracle/expected.json. Paths are made relative ("FILE").
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = new URL('../test/fixtures/oracle/', import.meta.url).pathname;
const out = {};
for (const f of readdirSync(dir).sort()) {
  if (!/\.(socket|service)$/.test(f) || ['o4@.service'].includes(f)) continue;
  const r = spawnSync('systemd-analyze', ['verify', '--man=no', join(dir, f)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const text = `${r.stderr}${r.stdout}`;
  const status = r.status ?? 1;
  const unit = f.replace('@.', '@i.'); // systemd-analyze verify checks a template as instance "i"
  const lines = text
    .split('\n')
    .filter(
      (l) =>
        l.startsWith(join(dir, f) + ':') ||
        l.startsWith(`${unit}:`) ||
        l.startsWith(`Unit ${unit} `) ||
        l === 'Access denied',
    )
    .map((l) => l.replace(dir, ''));
  out[f] = { status, lines };
}
writeFileSync(
  join(dir, 'expected.json'),
  JSON.stringify(
    { recordedWith: execFileSync('systemd-analyze', ['--version'], { encoding: 'utf8' }).split('\n')[0], units: out },
    null,
    2,
  ) + '\n',
);
console.log(`recorded ${Object.keys(out).length} units`);
