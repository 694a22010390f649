#!/usr/bin/env node
/**
 * Generates src/known-keys.ts from systemd 257's own directive table: the output of
 * `systemd --dump-configuration-items` (every key per section with its value type), kept in
 * scripts/systemd-257-configuration-items.txt.
 *
 *   node scripts/generate-known-keys.mjs            rewrite src/known-keys.ts
 *   node scripts/generate-known-keys.mjs --check    exit 1 if src/known-keys.ts is not what it generates
 *   ORACLE_BASE=/scratch node scripts/generate-known-keys.mjs --refresh
 *                                                   re-dump the items from the oracle's systemd 257 first
 *
 * KEY_CHECKS (how a key we keep verbatim is validated, so that a bad value gets systemd's warning) is
 * derived from the value types, for the keys without a row in the directive tables
 * (src/{unit,socket,service}-directives.ts: a row parses its key itself; the tables' keys are read
 * from those files, so KEY_CHECKS never re-lists them). OVERRIDES are the keys whose parser differs from the generic one
 * of its type, each with its reason; they were found with the 257 recording
 * (test/conformance-257.test.ts).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const here = dirname(new URL(import.meta.url).pathname);
const itemsFile = join(here, 'systemd-257-configuration-items.txt');
const target = resolve(here, '../src/known-keys.ts');
const { values: args } = parseArgs({ options: { check: { type: 'boolean' }, refresh: { type: 'boolean' } } });

const SECTIONS = ['Unit', 'Install', 'Socket', 'Service'];

if (args.refresh) {
  const base = process.env['ORACLE_BASE'];
  if (!base) throw new Error('--refresh needs ORACLE_BASE (the oracle scratch folder with systemd 257 unpacked)');
  const lib = join(base, 'x/usr/lib/x86_64-linux-gnu');
  const r = spawnSync(
    join(lib, 'ld-linux-x86-64.so.2'),
    ['--library-path', `${lib}:${lib}/systemd`, join(base, 'x/usr/lib/systemd/systemd'), '--dump-configuration-items'],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`systemd --dump-configuration-items failed: ${r.stderr}`);
  let keep = false;
  const lines = r.stdout.split('\n').filter((l) => {
    const m = /^\[(.*)\]$/.exec(l);
    if (m) keep = SECTIONS.includes(m[1]);
    return keep && l !== '';
  });
  writeFileSync(itemsFile, lines.join('\n') + '\n');
}

/** section → key → type, in the table's order. */
function readItems() {
  const items = {};
  let section;
  for (const l of readFileSync(itemsFile, 'utf8').split('\n')) {
    const m = /^\[(.*)\]$/.exec(l);
    if (m) {
      section = m[1];
      items[section] ??= {};
    } else if (section && l.includes('=')) items[section][l.slice(0, l.indexOf('='))] = l.slice(l.indexOf('=') + 1);
  }
  return items;
}

/** The generic parser of a value type, as a KeyCheck. */
const BY_TYPE = {
  BOOLEAN: 'bool',
  SECONDS: 'sec',
  MODE: 'mode',
  UNSIGNED: 'unsigned',
  INTEGER: 'int',
  SIZE: 'size',
  PATH: 'path',
};

/** Keys whose parser is not the generic one of their type. */
const OVERRIDES = {
  // A bad value makes the unit fail to load (the parser returns the error).
  DynamicUser: ['bool!', 'config_parse_bool with a fatal error'],
  RootDirectory: ['path!', 'config_parse_unit_path_printf, PATH_CHECK_FATAL'],
  RootImage: ['path!', 'config_parse_unit_path_printf, PATH_CHECK_FATAL'],
  RootVerity: ['path!', 'config_parse_unit_path_printf, PATH_CHECK_FATAL'],
  // ':'-separated list of paths, each checked.
  ExecSearchPath: ['paths:', 'config_parse_colon_separated_paths'],
  // Tristate: empty resets.
  PrivateMounts: ['tristate', 'config_parse_tristate'],
  // Dumped as OTHER, parsed as booleans or enum words (257 accepts these words; an empty value is
  // refused like a bad boolean). A dropped valid value would lose a sandbox setting.
  PrivateTmp: ['bool|disconnected', 'config_parse_private_tmp: a boolean or disconnected'],
  PrivateUsers: ['bool|self|identity', 'config_parse_private_users: a boolean, self or identity (full is 258)'],
  ProtectControlGroups: ['bool|private|strict', 'config_parse_protect_control_groups: a boolean, private or strict'],
  ProtectSystem: ['bool|full|strict', 'config_parse_protect_system: a boolean, full or strict'],
  ProtectHome: ['bool|read-only|tmpfs', 'config_parse_protect_home: a boolean, read-only or tmpfs'],
  // Namespace path lists: quoted words, `-`/`+` prefixes, specifiers, absolute normalized paths; a
  // bad word is reported and skipped (the launcher reads the value the same way).
  ReadWritePaths: ['nspaths', 'config_parse_namespace_path_strv'],
  ReadOnlyPaths: ['nspaths', 'config_parse_namespace_path_strv'],
  InaccessiblePaths: ['nspaths', 'config_parse_namespace_path_strv'],
  ExecPaths: ['nspaths', 'config_parse_namespace_path_strv'],
  NoExecPaths: ['nspaths', 'config_parse_namespace_path_strv'],
  ReadWriteDirectories: ['nspaths', 'config_parse_namespace_path_strv'],
  ReadOnlyDirectories: ['nspaths', 'config_parse_namespace_path_strv'],
  InaccessibleDirectories: ['nspaths', 'config_parse_namespace_path_strv'],
  // Dumped as STRING, expanded with unit specifiers (an unknown specifier is a warning).
  Description: ['printf', 'config_parse_unit_string_printf'],
  PAMName: ['printf', 'config_parse_unit_string_printf'],
  SmackLabel: ['printf', 'config_parse_unit_string_printf'],
  SmackLabelIPIn: ['printf', 'config_parse_unit_string_printf'],
  SmackLabelIPOut: ['printf', 'config_parse_unit_string_printf'],
  SyslogIdentifier: ['printf', 'config_parse_unit_string_printf'],
  UtmpIdentifier: ['printf', 'config_parse_unit_string_printf'],
  RebootArgument: ['printf', 'config_parse_unit_string_printf'],
  // Range-checked exec-context values, each with its own message (src/values/exec-limits.ts).
  Nice: ['nice', 'config_parse_exec_nice: -20..19'],
  OOMScoreAdjust: ['oom', 'config_parse_exec_oom_score_adjust: -1000..1000'],
  // Scheduling and process attributes, each with its own parser and message (src/values/exec-scheduling.ts).
  CPUSchedulingPolicy: ['sched', 'config_parse_exec_cpu_sched_policy'],
  CPUSchedulingPriority: ['sched', 'config_parse_exec_cpu_sched_prio: 0..99'],
  IOSchedulingClass: ['sched', 'config_parse_exec_io_class'],
  IOSchedulingPriority: ['sched', 'config_parse_exec_io_priority: 0..7'],
  CPUAffinity: ['sched', 'config_parse_exec_cpu_affinity: parse_cpu_set_extend(), or numa'],
  TimerSlackNSec: ['sched', 'config_parse_nsec'],
  CoredumpFilter: ['sched', 'config_parse_exec_coredump_filter'],
  Personality: ['sched', 'config_parse_personality'],
  // Exit status lists: each word an exit status or a signal, else "Failed to parse value".
  SuccessExitStatus: ['status', 'config_parse_set_status'],
  RestartPreventExitStatus: ['status', 'config_parse_set_status'],
  RestartForceExitStatus: ['status', 'config_parse_set_status'],
};
// config_parse_rlimit: SOFT[:HARD], the resource's own value parser.
for (const r of [
  'CPU',
  'FSIZE',
  'DATA',
  'STACK',
  'CORE',
  'RSS',
  'NOFILE',
  'AS',
  'NPROC',
  'MEMLOCK',
  'LOCKS',
  'SIGPENDING',
  'MSGQUEUE',
  'NICE',
  'RTPRIO',
  'RTTIME',
])
  OVERRIDES[`Limit${r}`] = ['rlimit', 'config_parse_rlimit'];
/** Keys left unchecked (none at the moment: a key with its own parser has a row in the tables). */
const NO_CHECK = new Set([]);

const items = readItems();

/**
 * section → the keys its directive table has a row for: the top-level keys of `export const
 * UNIT_TABLE/SOCKET_TABLE/SERVICE_TABLE = { … };` in src/{unit,socket,service}-directives.ts
 * (prettier's two-space indent), and for [Unit] the DEPENDENCIES list it spreads in.
 */
function tableKeys() {
  const block = (file, start, end) => {
    const src = readFileSync(resolve(here, '../src', file), 'utf8');
    const a = src.indexOf(start);
    if (a < 0) throw new Error(`src/${file}: ${start} not found`);
    return src.slice(a, src.indexOf(end, a));
  };
  const keysOf = (text) =>
    new Set([...text.matchAll(/^ {2}(?:'([^']+)'|([A-Za-z][A-Za-z0-9]*)):/gm)].map((m) => m[1] ?? m[2]));
  const unit = keysOf(block('unit-directives.ts', 'export const UNIT_TABLE = {', '\n};'));
  for (const m of block('unit-directives.ts', 'const DEPENDENCIES = [', '\n];').matchAll(/^ {2}'([^']+)',$/gm))
    unit.add(m[1]);
  return {
    Unit: unit,
    Socket: keysOf(block('socket-directives.ts', 'export const SOCKET_TABLE = {', '\n};')),
    Service: keysOf(block('service-directives.ts', 'export const SERVICE_TABLE = {', '\n};')),
  };
}
const rows = tableKeys();

const setName = {
  Unit: 'UNIT_SECTION_KEYS',
  Install: 'INSTALL_SECTION_KEYS',
  Socket: 'SOCKET_SECTION_KEYS',
  Service: 'SERVICE_SECTION_KEYS',
};
const wrap = (keys) => {
  const out = [];
  let line = ' ';
  for (const k of keys.map((k) => JSON.stringify(k) + ',')) {
    if (line.length + k.length + 1 > 118) {
      out.push(line);
      line = ' ';
    }
    line += ' ' + k;
  }
  if (line.trim()) out.push(line);
  return out.join('\n');
};

let text = `/**
 * GENERATED by scripts/generate-known-keys.mjs from systemd 257's directive table
 * (scripts/systemd-257-configuration-items.txt, \`systemd --dump-configuration-items\`); do not edit.
 * Every key systemd knows per section; the directive tables (src/directives.ts) parse some of them,
 * the others are kept verbatim after the check KEY_CHECKS names.
 */
`;
for (const s of ['Unit', 'Install', 'Socket', 'Service']) {
  text += `\nexport const ${setName[s]}: ReadonlySet<string> = new Set([\n${wrap(Object.keys(items[s] ?? {}))}\n]);\n`;
}
text += `
/**
 * How a key kept verbatim is validated: bool/sec/mode/unsigned/int/size/path = the generic parser of
 * its type (a bad value: \`Failed to parse KEY=VALUE, ignoring: <strerror>\`); \`!\` = fatal (the unit is
 * refused); tristate = a boolean or empty; \`bool|w1|w2\` = a boolean or one of the words; \`paths:\` =
 * ':'-separated paths; nspaths = namespace path lists (ReadWritePaths= …); printf = unit specifiers; nice/oom/rlimit/status = Nice=, OOMScoreAdjust=,
 * Limit*=, exit status lists (src/values/exec-limits.ts); sched = CPUScheduling*=, IOScheduling*=, CPUAffinity=,
 * TimerSlackNSec=, CoredumpFilter=, Personality= (src/values/exec-scheduling.ts).
 */
export type KeyCheck = 'bool' | \`bool|\${string}\` | 'tristate' | 'bool!' | 'sec' | 'mode' | 'unsigned' | 'int' | 'size' | 'path' | 'path!' | 'paths:' | 'nspaths' | 'printf' | 'nice' | 'oom' | 'rlimit' | 'status' | 'sched';

export const KEY_CHECKS: Readonly<Record<string, Readonly<Record<string, KeyCheck>>>> = {
`;
for (const s of ['Unit', 'Socket', 'Service']) {
  const entries = [];
  for (const [k, type] of Object.entries(items[s] ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (NO_CHECK.has(k) || rows[s].has(k)) continue;
    const check = OVERRIDES[k]?.[0] ?? BY_TYPE[type];
    if (check) entries.push(`    ${k}: '${check}',`);
  }
  text += `  ${s}: {\n${entries.join('\n')}\n  },\n`;
}
text += '};\n';

if (args.check) {
  const now = readFileSync(target, 'utf8');
  if (now !== text) {
    console.error('src/known-keys.ts is not what scripts/generate-known-keys.mjs generates: run it');
    process.exit(1);
  }
  console.log('src/known-keys.ts is up to date');
} else {
  writeFileSync(target, text);
  console.log(`wrote ${target}`);
}
