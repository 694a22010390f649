#!/usr/bin/env node
/**
 * Records systemd 257's `systemd-analyze verify` on the conformance corpus (scripts/corpus-257.mjs,
 * the 252-era units of test/fixtures/oracle/ and N random units) into test/fixtures/v257/.
 *
 *   ORACLE_BASE=/scratch node scripts/record-257.mjs [--random N] [--seed S] [--only CASE]
 *
 * Needs the oracle (../shared/oracle/oracle.sh, `oracle.sh setup` done or doable) and a build of this
 * package (dist/: the directive tables name the keys, dist/testing.js generates the random units).
 * Per verified file two runs are recorded:
 *   strict:  `oracle.sh verify DIR FILE` (--recursive-errors=no: any warning makes rc 1);
 *   default: no --recursive-errors (its default, "yes"), unit path = DIR + trixie's own units, so that
 *            dependencies like sysinit.target resolve: warnings are printed but rc stays 0.
 * The case directory is written as "{DIR}" in the recorded lines. Then the 252 recording
 * (test/fixtures/oracle/expected.json) is pruned to the units where 257 prints the same lines.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SCENARIOS, directiveCases } from './corpus-257.mjs';

const here = dirname(new URL(import.meta.url).pathname);
const pkg = resolve(here, '..');
const out = join(pkg, 'test/fixtures/v257');
const oracle = process.env['ORACLE_SH'] ?? resolve(pkg, '../../../shared/oracle/oracle.sh');
const base = process.env['ORACLE_BASE'];
if (!base) throw new Error('set ORACLE_BASE to the oracle scratch folder (see ../shared/oracle/README.md)');
const { values: args } = parseArgs({
  options: {
    random: { type: 'string', default: '300' },
    seed: { type: 'string', default: '20261130' },
    only: { type: 'string' },
  },
});

const setup = spawnSync(oracle, ['setup'], { encoding: 'utf8', env: process.env });
if (setup.status !== 0) throw new Error(`oracle.sh setup failed: ${setup.stderr}`);

const { UNIT_DIRECTIVES, SOCKET_DIRECTIVES, SERVICE_DIRECTIVES } = await import(join(pkg, 'dist/directives.js'));
const { KEY_CHECKS } = await import(join(pkg, 'dist/known-keys.js'));
const { randomUnits257 } = await import(join(pkg, 'dist/testing.js'));

const keys = {
  Unit: new Set([...Object.keys(UNIT_DIRECTIVES), ...Object.keys(KEY_CHECKS.Unit ?? {})]),
  Socket: new Set([...Object.keys(SOCKET_DIRECTIVES), ...Object.keys(KEY_CHECKS.Socket ?? {})]),
  Service: new Set([...Object.keys(SERVICE_DIRECTIVES), ...Object.keys(KEY_CHECKS.Service ?? {})]),
};

// The 252-era corpus, re-recorded with 257.
const o252 = join(pkg, 'test/fixtures/oracle');
const o252Files = Object.fromEntries(
  readdirSync(o252)
    .filter((f) => /\.(socket|service)$/.test(f))
    .map((f) => [f, readFileSync(join(o252, f), 'utf8')]),
);
const o252Case = {
  name: 'o252',
  files: o252Files,
  verify: Object.keys(o252Files)
    .filter((f) => f !== 'o4@.service')
    .sort(),
};

const n = Number(args.random);
const randomFiles = randomUnits257(Number(args.seed), n);
const randomCase = {
  name: 'random',
  files: Object.fromEntries(randomFiles.map((f) => [f.name, f.text])),
  verify: randomFiles.filter((f) => /^r\d+\.(socket|service)$/.test(f.name)).map((f) => f.name),
};

const cases = [...directiveCases(keys), ...SCENARIOS, o252Case, randomCase].filter(
  (c) => !args.only || c.name === args.only,
);

const xtree = join(base, 'x');
const lib = join(xtree, 'usr/lib/x86_64-linux-gnu');
/** systemd-analyze 257 without --recursive-errors (the way `oracle.sh` runs it, minus that flag). */
function verifyDefault(dir, file) {
  const r = spawnSync(
    join(lib, 'ld-linux-x86-64.so.2'),
    [
      '--library-path',
      `${lib}:${lib}/systemd`,
      join(xtree, 'usr/bin/systemd-analyze'),
      'verify',
      '--man=no',
      '--generators=no',
      join(dir, file),
    ],
    {
      encoding: 'utf8',
      env: {
        ...process.env,
        SYSTEMD_UNIT_PATH: `${dir}:${join(xtree, 'usr/lib/systemd/system')}`,
        SYSTEMD_LOG_COLOR: '0',
        SYSTEMD_PAGER: 'cat',
      },
    },
  );
  return { rc: r.status ?? 1, lines: lines(`${r.stderr}${r.stdout}`, dir) };
}

function verifyStrict(dir, file) {
  const r = spawnSync(oracle, ['verify', dir, file], { encoding: 'utf8', env: process.env });
  return { rc: r.status ?? 1, lines: lines(`${r.stdout}${r.stderr}`, dir).filter((l) => !/^verify rc=\d+$/.test(l)) };
}

function lines(text, dir) {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split(`${dir}/`).join('{DIR}/'));
}

function writeCase(c) {
  const dir = join(out, c.name);
  rmSync(dir, { recursive: true, force: true });
  for (const [rel, content] of Object.entries(c.files)) {
    const p = join(dir, rel);
    mkdirSync(dirname(p), { recursive: true });
    if (typeof content === 'string') writeFileSync(p, content);
    else symlinkSync(content.symlink, p);
  }
  mkdirSync(dir, { recursive: true });
  return dir;
}

const expectedFile = join(out, 'expected.json');
const expected = existsSync(expectedFile) ? JSON.parse(readFileSync(expectedFile, 'utf8')) : { cases: {} };
expected.recordedWith = spawnSync(
  join(lib, 'ld-linux-x86-64.so.2'),
  ['--library-path', `${lib}:${lib}/systemd`, join(xtree, 'usr/bin/systemd-analyze'), '--version'],
  { encoding: 'utf8' },
).stdout.split('\n')[0];
let total = 0;
for (const c of cases) {
  const dir = writeCase(c);
  const rec = {};
  for (const f of c.verify) {
    const strict = verifyStrict(dir, f);
    const dflt = verifyDefault(dir, f);
    // default.lines only where they differ from strict.lines (dependencies' lines, mostly).
    rec[f] = { strict, default: JSON.stringify(dflt.lines) === JSON.stringify(strict.lines) ? { rc: dflt.rc } : dflt };
    total++;
  }
  expected.cases[c.name] = rec;
  process.stderr.write(`${c.name}: ${c.verify.length} units\n`);
}
writeFileSync(expectedFile, serialize(expected));

/** One line per recorded unit: reviewable diffs, a tenth of the indented size. */
function serialize(e) {
  const caseText = (c) =>
    Object.entries(c)
      .map(([f, r]) => `   ${JSON.stringify(f)}: ${JSON.stringify(r)}`)
      .join(',\n');
  const body = Object.entries(e.cases)
    .map(([name, c]) => `  ${JSON.stringify(name)}: {\n${caseText(c)}\n  }`)
    .join(',\n');
  return `{\n "recordedWith": ${JSON.stringify(e.recordedWith)},\n "cases": {\n${body}\n }\n}\n`;
}

// Keep the 252 recording only where 257 agrees (same lines, same verdict).
const e252File = join(o252, 'expected.json');
const e252 = JSON.parse(readFileSync(e252File, 'utf8'));
const r257 = expected.cases['o252'] ?? {};
let dropped = 0;
if (cases.some((c) => c.name === 'o252')) {
  for (const [name, want] of Object.entries(e252.units)) {
    const got = r257[name];
    const same =
      got &&
      JSON.stringify(
        got.default.lines.filter((l) => !l.includes('sysinit.target')).map((l) => l.replace('{DIR}/', '')),
      ) === JSON.stringify(want.lines) &&
      (got.default.rc !== 0) === (want.status !== 0);
    if (!same) {
      delete e252.units[name];
      dropped++;
    }
  }
}
e252.note =
  'systemd 252 recording, pruned by scripts/record-257.mjs to the units where systemd 257 prints the same lines; test/fixtures/v257/ has 257 for all of them';
writeFileSync(e252File, JSON.stringify(e252, null, 2) + '\n');
console.log(
  `recorded ${total} units with ${expected.recordedWith}; 252 fixtures kept: ${Object.keys(e252.units).length} (dropped ${dropped})`,
);
