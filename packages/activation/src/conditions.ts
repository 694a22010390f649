/**
 * Condition*= and Assert*= at each start, as systemd 257 (src/shared/condition.c condition_test()
 * and condition_test_list(), src/core/unit.c unit_test_condition()/unit_test_assert(),
 * unit_find_failed_condition(), job.c's done messages):
 * - the list is evaluated from its head, which is the last assignment written (257 prepends); a
 *   plain check that fails (or cannot be determined) ends the evaluation: unmet; the triggering
 *   (`|`) ones need at least one that holds; `!` negates a result (not an error);
 * - a check that cannot be determined is logged `Couldn't determine result for KEY=[|][!]PARAM,
 *   assuming failed: <strerror>` (warning) and counts as failed;
 * - unmet conditions: nothing starts, the start job succeeds, the unit stays inactive (dead), and
 *   the manager logs `UNIT skipped, unmet condition check KEY=[!]PARAM` (or `UNIT skipped, no trigger
 *   condition checks were met.`) at info; failed asserts: `Starting requested but asserts failed.`
 *   (notice), `Assertion failed for UNIT.` (warning), and systemctl answers `Assertion failed on job
 *   for UNIT.` (rc 1). Conditions are tested before asserts.
 * The results are kept per unit for status/show: ConditionResult=, AssertResult=, their timestamps,
 * and each check's result (`Condition: start condition unmet at …` with `KEY=… was not met` lines).
 * Recorded with the oracle: test/fixtures/v257/conditions.
 */
import { CGROUP_CONTROLLERS } from './cgroup.js';
import { createRequire } from 'node:module';
import {
  type Dir,
  type Stats,
  accessSync,
  constants,
  lstatSync,
  opendirSync,
  readFileSync,
  readdirSync,
  realpathSync,
  statSync,
} from 'node:fs';
import { availableParallelism, hostname, machine, totalmem } from 'node:os';
import { type UnitCondition, isHiddenOrBackupFile, parseBoolean, parseSize, strerror } from '@mptcp/unit';
import { capabilityFromName } from './capabilities.js';
import { ActivationError } from './errors.js';
import { fnmatch } from './fnmatch.js';
import { globExists } from './glob.js';
import type { LogFields } from './logger.js';
import { unitStatusString } from './logger.js';
import { resolveGroup, resolveUser } from './user.js';

export type CheckResult = 'untested' | 'succeeded' | 'failed' | 'error';

/** What status/show tell of a unit's last condition and assert checks. */
export interface ConditionState {
  /** ConditionResult= (false until a start tested the conditions; false again when unmet or ExecCondition= skipped). */
  conditionResult: boolean;
  assertResult: boolean;
  /** When they were last tested (ms since the epoch); undefined: never. */
  conditionTimestamp?: number;
  assertTimestamp?: number;
  /** Each check's last result (a check not reached keeps its previous one, as 257). */
  results: Map<UnitCondition, CheckResult>;
}

interface Logs {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
}

interface UnitLike {
  name: string;
  unit: { description?: string; conditions?: UnitCondition[]; asserts?: UnitCondition[] };
}

const STATES = new WeakMap<object, ConditionState>();

/** The condition state kept for `holder` (a service process or a socket runtime). */
export function conditionState(holder: object): ConditionState {
  let s = STATES.get(holder);
  if (!s) {
    // 257's defaults: no until a start tested them (show of a unit never started: ConditionResult=no).
    s = { conditionResult: false, assertResult: false, results: new Map() };
    STATES.set(holder, s);
  }
  return s;
}

/** A check whose result cannot be determined: errno name (for strerror). */
class Undetermined extends Error {
  constructor(readonly errno: string) {
    super(errno);
  }
}

/**
 * unit_start()'s checks for `unit` (its state kept on `holder`): returns true when the start goes
 * on, false when unmet conditions skip it (logged); throws JOB_ASSERT when an assert failed (logged).
 */
export function testStartConditions(holder: object, unit: UnitLike, log: Logs): boolean {
  const st = conditionState(holder);
  const name = unit.name;
  st.conditionTimestamp = Date.now();
  st.conditionResult = testList(unit.unit.conditions, st, name, log);
  if (!st.conditionResult) {
    log.info(skipLine(unit, st), { unit: name, bare: true });
    return false;
  }
  st.assertTimestamp = Date.now();
  st.assertResult = testList(unit.unit.asserts, st, name, log);
  if (!st.assertResult) {
    log.warn('Starting requested but asserts failed.', { unit: name });
    log.warn(`Assertion failed for ${unitStatusString(name, unit.unit.description)}.`, { unit: name, bare: true });
    throw new ActivationError('JOB_ASSERT', `Assertion failed on job for ${name}.`, { unit: name });
  }
  return true;
}

/** ExecCondition= skipped the start (service.c: condition_result = false). */
export function markExecConditionSkipped(holder: object): void {
  const st = conditionState(holder);
  st.conditionResult = false;
  st.conditionTimestamp = Date.now();
}

function label(c: UnitCondition): string {
  return `${c.key}=${c.trigger ? '|' : ''}${c.negate ? '!' : ''}${c.parameter}`;
}

/** condition_test_list(): from the last written (257's list head). */
function testList(list: UnitCondition[] | undefined, st: ConditionState, unit: string, log: Logs): boolean {
  if (!list || list.length === 0) return true;
  let triggered = -1;
  for (let i = list.length - 1; i >= 0; i--) {
    const c = list[i] as UnitCondition;
    let r: number;
    try {
      r = testOne(c) === !c.negate ? 1 : 0;
      st.results.set(c, r > 0 ? 'succeeded' : 'failed');
    } catch (err) {
      const errno = err instanceof Undetermined ? err.errno : 'EINVAL';
      st.results.set(c, 'error');
      log.warn(`Couldn't determine result for ${label(c)}, assuming failed: ${strerror(errno)}`, { unit });
      r = -1;
    }
    if (!c.trigger && r <= 0) return false;
    if (c.trigger && triggered <= 0) triggered = r > 0 ? 1 : 0;
  }
  return triggered !== 0;
}

/** job_emit_done_message() for a start skipped by its conditions (unit_find_failed_condition()). */
function skipLine(unit: UnitLike, st: ConditionState): string {
  const ident = unitStatusString(unit.name, unit.unit.description);
  const list = unit.unit.conditions ?? [];
  let failedTrigger: UnitCondition | undefined;
  let succeededTrigger = false;
  for (let i = list.length - 1; i >= 0; i--) {
    const c = list[i] as UnitCondition;
    const r = st.results.get(c) ?? 'untested';
    if (c.trigger) {
      if (r === 'succeeded') succeededTrigger = true;
      else failedTrigger ??= c;
    } else if (r !== 'succeeded') {
      return `${ident} skipped, unmet condition check ${c.key}=${c.negate ? '!' : ''}${c.parameter}`;
    }
  }
  if (failedTrigger && !succeededTrigger) return `${ident} skipped, no trigger condition checks were met.`;
  return `Condition check resulted in ${ident} being skipped.`;
}

/**
 * systemctl status's lines for unmet conditions or a failed assert (systemctl-show.c), `at` being
 * how the caller prints a timestamp: `Condition: start condition unmet at …` and a tree of the checks
 * that failed; `Assert: start assertion failed at …` and the failed one.
 */
export function conditionStatusLines(holder: object, unit: UnitLike, at: (ms: number) => string): string[] {
  const st = STATES.get(holder);
  if (!st) return [];
  const out: string[] = [];
  if (!st.conditionResult && st.conditionTimestamp !== undefined) {
    out.push(`  Condition: start condition unmet at ${at(st.conditionTimestamp)}`);
    // The failed ones, in the order written (systemctl rebuilds the list from the Conditions property).
    const failed = (unit.unit.conditions ?? []).filter((c) => isFailed(st.results.get(c)));
    failed.forEach((c, i) => out.push(`             ${i === failed.length - 1 ? '└─' : '├─'} ${label(c)} was not met`));
  }
  if (!st.assertResult && st.assertTimestamp !== undefined) {
    out.push(`     Assert: start assertion failed at ${at(st.assertTimestamp)}`);
    const list = [...(unit.unit.asserts ?? [])].reverse();
    // systemctl names the first failed one (not a trigger), or says none of the triggers held.
    const plain = list.find((c) => !c.trigger && isFailed(st.results.get(c)));
    if (plain) out.push(`             ${plain.key}=${plain.negate ? '!' : ''}${plain.parameter} was not met`);
    else if (list.some((c) => c.trigger)) out.push('             none of the trigger assertions were met');
  }
  return out;
}

function isFailed(r: CheckResult | undefined): boolean {
  return r === 'failed' || r === 'error';
}

/** `systemctl show`'s ConditionResult=/AssertResult= (yes/no). */
export function conditionShow(holder: object): { ConditionResult: string; AssertResult: string } {
  const st = STATES.get(holder);
  return { ConditionResult: st?.conditionResult ? 'yes' : 'no', AssertResult: st?.assertResult ? 'yes' : 'no' };
}

// ---- the checks (condition_test_*) ---------------------------------------------------------------

/** The check's own answer, before `!`; throws Undetermined when it cannot tell. */
export function testOne(c: UnitCondition): boolean {
  const p = c.parameter;
  switch (c.type) {
    case 'PathExists':
      return accessible(p);
    case 'PathExistsGlob':
      return globExists(p);
    case 'PathIsDirectory':
      return statOr(p)?.isDirectory() ?? false;
    case 'PathIsSymbolicLink':
      return lstatOr(p)?.isSymbolicLink() ?? false;
    case 'PathIsMountPoint':
      return isMountPoint(p);
    case 'PathIsReadWrite': {
      const ro = readOnlyFs(p);
      return ro === false;
    }
    case 'DirectoryNotEmpty':
      return directoryNotEmpty(p);
    case 'FileNotEmpty': {
      const st = statOr(p);
      return !!st && st.isFile() && st.size > 0;
    }
    case 'FileIsExecutable': {
      const st = statOr(p);
      return !!st && st.isFile() && (st.mode & 0o111) !== 0;
    }
    case 'NeedsUpdate':
      return needsUpdate(p);
    case 'KernelCommandLine':
      return kernelCommandLine(p);
    case 'KernelVersion':
      return kernelVersion(p);
    case 'Credential':
      return credential(p);
    case 'Virtualization':
      return virtualization(p);
    case 'Security':
      return security(p);
    case 'Capability':
      return capability(p);
    case 'Host':
      return host(p);
    case 'ACPower': {
      const b = parseBoolean(p);
      if (!b.ok) throw new Undetermined('EINVAL');
      return onAcPower() === b.value;
    }
    case 'Architecture':
      return architecture(p);
    case 'FirstBoot': {
      const b = parseBoolean(p);
      if (!b.ok) throw new Undetermined('EINVAL');
      return firstBoot() === b.value;
    }
    case 'User':
      return user(p);
    case 'Group':
      return group(p);
    case 'ControlGroupController':
      return controlGroupController(p);
    case 'CPUs':
      return cpus(p);
    case 'Memory':
      return memory(p);
    case 'Environment':
      return environment(p);
    case 'CPUFeature':
      return cpuFeature(p);
    case 'OSRelease':
      return osRelease(p);
    default:
      // The parser refuses the others at load (Firmware, the pressure ones, PathIsEncrypted).
      throw new Undetermined('EOPNOTSUPP');
  }
}

function errnoOf(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? 'EIO';
}

function accessible(p: string): boolean {
  try {
    accessSync(p, constants.F_OK);
    return true;
  } catch {
    return false;
  }
}

function statOr(p: string): Stats | undefined {
  try {
    return statSync(p);
  } catch {
    return undefined;
  }
}

function lstatOr(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch {
    return undefined;
  }
}

interface MountEntry {
  mountPoint: string;
  options: string[];
}

function mountinfo(): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f.length < 6) continue;
    const unescape = (s: string): string =>
      s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
    out.push({ mountPoint: unescape(f[4] as string), options: (f[5] as string).split(',') });
  }
  return out;
}

/** path_is_mount_point_full(AT_SYMLINK_FOLLOW): the resolved path is a mount point. */
function isMountPoint(p: string): boolean {
  let real: string;
  try {
    real = realpathSync(p);
  } catch {
    return false;
  }
  if (real === '/') return true;
  return mountinfo().some((m) => m.mountPoint === real);
}

/** path_is_read_only_fs(): the mount holding the path is read-only; undefined when the path is missing. */
function readOnlyFs(p: string): boolean | undefined {
  let real: string;
  try {
    real = realpathSync(p);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return undefined;
    return false;
  }
  let best: MountEntry | undefined;
  for (const m of mountinfo()) {
    const inside = m.mountPoint === '/' || real === m.mountPoint || real.startsWith(`${m.mountPoint}/`);
    if (inside && (!best || m.mountPoint.length >= best.mountPoint.length)) best = m;
  }
  return best?.options.includes('ro') ?? false;
}

/**
 * dir_is_empty(ignore_hidden_or_backup): not empty → true; missing or not a directory → false; other
 * errors → true. Reads only up to the first entry that counts, as 257 (a directory of 200 000 entries
 * costs one buffer of entries here, not 200 000 names on every start).
 */
function directoryNotEmpty(p: string): boolean {
  const undetermined = (err: unknown): boolean => {
    const e = errnoOf(err);
    return !(e === 'ENOENT' || e === 'ENOTDIR');
  };
  let dir: Dir;
  try {
    dir = opendirSync(p);
  } catch (err) {
    return undetermined(err);
  }
  try {
    return hasEntryThatCounts(dir);
  } catch (err) {
    return undetermined(err);
  }
}

/** Reads `dir` up to its first entry that is not hidden or a backup (hidden_or_backup_file()), then closes it. */
export function hasEntryThatCounts(dir: Dir): boolean {
  try {
    for (let e = dir.readSync(); e !== null; e = dir.readSync()) if (!isHiddenOrBackupFile(e.name)) return true;
    return false;
  } finally {
    dir.closeSync();
  }
}

/** /proc/cmdline as words (proc_cmdline_strv(): quotes removed). */
function cmdlineWords(): string[] {
  let text: string;
  try {
    text = process.env.SYSTEMD_PROC_CMDLINE ?? readFileSync('/proc/cmdline', 'utf8');
  } catch (err) {
    throw new Undetermined(errnoOf(err));
  }
  const words: string[] = [];
  const re = /(?:[^\s"']+|"[^"]*"|'[^']*')+/g;
  for (const m of text.matchAll(re)) words.push(m[0].replace(/["']/g, ''));
  return words;
}

function kernelCommandLine(p: string): boolean {
  const equal = p.includes('=');
  return cmdlineWords().some((w) => (equal ? w === p : w === p || w.startsWith(`${p}=`)));
}

function needsUpdate(p: string): boolean {
  const flag = cmdlineWords().find(
    (w) => w === 'systemd.condition_needs_update' || w.startsWith('systemd.condition_needs_update='),
  );
  if (flag) {
    const v = flag.includes('=') ? flag.slice(flag.indexOf('=') + 1) : 'yes';
    const b = parseBoolean(v);
    if (b.ok) return b.value;
  }
  if (accessible('/etc/initrd-release')) return false;
  if (!p.startsWith('/')) return true;
  if (readOnlyFs(p) === true) return false;
  const other = lstatOr(`${p}/.updated`);
  if (!other) return true;
  const usr = lstatOr('/usr/');
  if (!usr) return true;
  return usr.mtimeMs > other.mtimeMs;
}

type Op = 'seq' | 'sne' | 'feq' | 'fne' | 'le' | 'ge' | 'lt' | 'gt' | 'eq' | 'ne';

/** parse_compare_operator(): the operator at the start of `s` and the rest, or undefined. */
function compareOperator(s: string, fnmatch: boolean, equalByString: boolean): [Op, string] | undefined {
  const table: Array<[string, Op, 'fn' | 'str' | undefined]> = [
    ['$=', 'feq', 'fn'],
    ['!$=', 'fne', 'fn'],
    ['<>', 'ne', undefined],
    ['<=', 'le', undefined],
    ['>=', 'ge', undefined],
    ['<', 'lt', undefined],
    ['>', 'gt', undefined],
    ['==', 'eq', undefined],
    ['=', 'seq', 'str'],
    ['=', 'eq', undefined],
    ['!=', 'sne', 'str'],
    ['!=', 'ne', undefined],
  ];
  for (const [str, op, need] of table) {
    if (need === 'str' && !equalByString) continue;
    if (!s.startsWith(str)) continue;
    if (need === 'fn' && !fnmatch) return undefined;
    return [op, s.slice(str.length)];
  }
  return undefined;
}

function testOrder(k: number, op: Op): boolean {
  switch (op) {
    case 'lt':
      return k < 0;
    case 'le':
      return k <= 0;
    case 'eq':
      return k === 0;
    case 'ne':
      return k !== 0;
    case 'ge':
      return k >= 0;
    case 'gt':
      return k > 0;
    default:
      throw new Undetermined('EINVAL');
  }
}

/** version_or_fnmatch_compare(). */
function versionOrFnmatch(op: Op, a: string, b: string): boolean {
  switch (op) {
    case 'seq':
      return a === b;
    case 'sne':
      return a !== b;
    case 'feq':
      return fnmatch(b, a);
    case 'fne':
      return !fnmatch(b, a);
    default:
      return testOrder(versionCompare(a, b), op);
  }
}

/** strverscmp_improved(), close enough: numeric runs compared as numbers, `~` before anything. */
export function versionCompare(a: string, b: string): number {
  const tok = (s: string): string[] => s.match(/~|\d+|[a-zA-Z]+|[^a-zA-Z\d~]+/g) ?? [];
  const x = tok(a);
  const y = tok(b);
  for (let i = 0; ; i++) {
    const p = x[i];
    const q = y[i];
    if (p === undefined && q === undefined) return 0;
    if (p === '~' || q === '~') {
      if (p === q) continue;
      return p === '~' ? -1 : 1;
    }
    if (p === undefined) return -1;
    if (q === undefined) return 1;
    const pd = /^\d/.test(p);
    const qd = /^\d/.test(q);
    if (pd && qd) {
      const d = BigInt(p) - BigInt(q);
      if (d !== 0n) return d < 0n ? -1 : 1;
      continue;
    }
    const ps = /^[^a-zA-Z\d]/.test(p);
    const qs = /^[^a-zA-Z\d]/.test(q);
    if (ps && qs) continue;
    if (ps !== qs) return ps ? -1 : 1;
    if (pd !== qd) return pd ? 1 : -1;
    if (p !== q) return p < q ? -1 : 1;
  }
}

function kernelRelease(): string {
  return readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
}

/** Words as extract_first_word(EXTRACT_UNQUOTE). */
function unquotedWords(s: string): string[] {
  const out: string[] = [];
  for (const m of s.matchAll(/(?:[^\s"']+|"[^"]*"|'[^']*')+/g)) out.push(m[0].replace(/(["'])(.*?)\1/g, '$2'));
  return out;
}

function kernelVersion(p: string): boolean {
  const release = kernelRelease();
  const words = unquotedWords(p);
  for (let i = 0; i < words.length; i++) {
    const w = (words[i] as string).trim();
    const parsed = compareOperator(w, true, true);
    const [op, rest0] = parsed ?? (['feq', w] as [Op, string]);
    let rest = rest0.trimStart();
    if (rest === '') {
      // Whitespace between the operator and the value is allowed in the first expression only.
      if (i !== 0 || i + 1 >= words.length) throw new Undetermined('EINVAL');
      rest = words[++i] as string;
    }
    if (!versionOrFnmatch(op, release, rest)) return false;
  }
  return true;
}

function osReleaseFields(): Map<string, string> {
  let text: string;
  try {
    text = readFileSync('/etc/os-release', 'utf8');
  } catch {
    try {
      text = readFileSync('/usr/lib/os-release', 'utf8');
    } catch (err) {
      throw new Undetermined(errnoOf(err));
    }
  }
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const r = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!r) continue;
    m.set(r[1] as string, (r[2] as string).trim().replace(/^(["'])(.*)\1$/, '$2'));
  }
  return m;
}

function osRelease(p: string): boolean {
  const fields = osReleaseFields();
  for (const word of unquotedWords(p)) {
    const k = /^[^!<=>$]*/.exec(word)?.[0] ?? '';
    const after = word.slice(k.length);
    if (k === '' || after === '' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Undetermined('EINVAL');
    const parsed = compareOperator(after, true, true);
    if (!parsed || parsed[1] === '' || /^\s/.test(parsed[1])) throw new Undetermined('EINVAL');
    if (!versionOrFnmatch(parsed[0], fields.get(k) ?? '', parsed[1])) return false;
  }
  return true;
}

function credential(p: string): boolean {
  if (p === '' || p === '.' || p === '..' || p.includes('/') || Buffer.byteLength(p) > 255) return false;
  for (const dir of [process.env.CREDENTIALS_DIRECTORY, process.env.ENCRYPTED_CREDENTIALS_DIRECTORY]) {
    if (!dir) continue;
    try {
      lstatSync(`${dir}/${p}`);
      return true;
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT') throw new Undetermined(errnoOf(err));
    }
  }
  return false;
}

const VMS = new Set([
  'qemu',
  'kvm',
  'amazon',
  'zvm',
  'vmware',
  'microsoft',
  'oracle',
  'powervm',
  'xen',
  'bochs',
  'uml',
  'parallels',
  'bhyve',
  'qnx',
  'acrn',
  'apple',
  'sre',
  'google',
  'vm-other',
]);

let virt: string | Undetermined | undefined;
/**
 * systemd-detect-virt's answer, asked once per daemon (the machine does not change under it) and
 * only for a unit with ConditionVirtualization=: node:child_process (with net, dgram and the
 * streams) is loaded then, not by every daemon.
 */
function detectVirt(): string {
  if (virt === undefined) {
    const cp = (process.getBuiltinModule?.('node:child_process') ??
      createRequire(import.meta.url)('node:child_process')) as typeof import('node:child_process');
    const r = cp.spawnSync('systemd-detect-virt', [], { encoding: 'utf8' });
    const v = r.stdout?.trim() ?? '';
    virt = r.error ? new Undetermined(errnoOf(r.error)) : v === '' ? new Undetermined('EIO') : v;
  }
  if (virt instanceof Undetermined) throw virt;
  return virt;
}

function virtualization(p: string): boolean {
  if (p === 'private-users') {
    try {
      return !/^\s*0\s+0\s+4294967295\s*$/.test(readFileSync('/proc/self/uid_map', 'utf8'));
    } catch (err) {
      throw new Undetermined(errnoOf(err));
    }
  }
  const v = detectVirt();
  const b = parseBoolean(p);
  if (b.ok) return b.value === (v !== 'none');
  if (p === 'vm') return VMS.has(v);
  if (p === 'container') return v !== 'none' && !VMS.has(v);
  return v !== 'none' && p === v;
}

function security(p: string): boolean {
  switch (p) {
    case 'selinux':
      return accessible('/sys/fs/selinux/enforce');
    case 'smack':
      return accessible('/sys/fs/smackfs/');
    case 'apparmor':
      try {
        return readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').startsWith('Y');
      } catch {
        return false;
      }
    case 'ima':
      return accessible('/sys/kernel/security/ima/');
    case 'tomoyo':
      return accessible('/sys/kernel/security/tomoyo/version');
    case 'audit':
    case 'uefi-secureboot':
    case 'tpm2':
    case 'cvm':
    case 'measured-uki':
      // Refused at load by the parser; reaching here means a unit parsed without it.
      throw new Undetermined('EOPNOTSUPP');
    default:
      return false;
  }
}

function capability(p: string): boolean {
  const n = capabilityFromName(p);
  if (n === undefined) throw new Undetermined('EINVAL');
  let bounding = (1n << 64n) - 1n;
  const line = readFileSync('/proc/self/status', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('CapBnd:'));
  if (line) bounding = BigInt(`0x${line.slice(7).trim()}`);
  return ((bounding >> BigInt(n)) & 1n) === 1n;
}

function host(p: string): boolean {
  const id = p.replace(/-/g, '');
  if (/^[0-9a-fA-F]{32}$/.test(id) && (p.length === 32 || p.length === 36)) {
    try {
      return readFileSync('/etc/machine-id', 'utf8').trim().toLowerCase() === id.toLowerCase();
    } catch (err) {
      throw new Undetermined(errnoOf(err));
    }
  }
  return fnmatch(p, hostname(), { casefold: true });
}

/** on_ac_power(): an online power supply that is not a battery; no supply at all counts as AC. */
function onAcPower(): boolean {
  let names: string[];
  try {
    names = readdirSync('/sys/class/power_supply');
  } catch {
    return true;
  }
  let found = false;
  for (const n of names) {
    const read = (f: string): string | undefined => {
      try {
        return readFileSync(`/sys/class/power_supply/${n}/${f}`, 'utf8').trim();
      } catch {
        return undefined;
      }
    };
    if (read('type') !== 'Mains') continue;
    found = true;
    if (read('online') === '1') return true;
  }
  return !found;
}

const ARCHITECTURES: Readonly<Record<string, string>> = {
  x86_64: 'x86-64',
  i386: 'x86',
  i486: 'x86',
  i586: 'x86',
  i686: 'x86',
  aarch64: 'arm64',
  aarch64_be: 'arm64-be',
  armv7l: 'arm',
  armv8l: 'arm',
  ppc64le: 'ppc64-le',
  ppc64: 'ppc64',
  s390x: 's390x',
  riscv64: 'riscv64',
  loongarch64: 'loongarch64',
  mips64: 'mips64',
};

function architecture(p: string): boolean {
  const m = machine();
  const ours = ARCHITECTURES[m] ?? m;
  if (p === 'native') return true;
  return p === ours;
}

function firstBoot(): boolean {
  const e = process.env.SYSTEMD_FIRST_BOOT;
  if (e !== undefined) {
    const b = parseBoolean(e);
    if (b.ok) return b.value;
  }
  return accessible('/run/systemd/first-boot');
}

const SYSTEM_UID_MAX = 999;

function user(p: string): boolean {
  const uid = process.getuid?.() ?? -1;
  const euid = process.geteuid?.() ?? -1;
  if (p === 'root') return uid === 0 || euid === 0;
  if (p === 'nobody') return uid === 65534 || euid === 65534;
  if (p === '@system') return (uid >= 0 && uid <= SYSTEM_UID_MAX) || (euid >= 0 && euid <= SYSTEM_UID_MAX);
  if (/^(0|[1-9]\d*)$/.test(p)) return Number(p) === uid || Number(p) === euid;
  try {
    const u = resolveUser(p);
    return u.uid === uid || u.uid === euid;
  } catch {
    return false;
  }
}

function group(p: string): boolean {
  const gids = new Set<number>([process.getgid?.() ?? -1, process.getegid?.() ?? -1, ...(process.getgroups?.() ?? [])]);
  if (/^(0|[1-9]\d*)$/.test(p)) return gids.has(Number(p));
  try {
    return gids.has(resolveGroup(p));
  } catch {
    return false;
  }
}

const CONTROLLER_NAMES: ReadonlySet<string> = new Set(CGROUP_CONTROLLERS);

function controlGroupController(p: string): boolean {
  const unified = accessible('/sys/fs/cgroup/cgroup.controllers');
  if (p === 'v2') return unified;
  if (p === 'v1') return !unified;
  const wanted = p.split(/\s+/).filter((w) => CONTROLLER_NAMES.has(w));
  if (wanted.length === 0) return true;
  let available: Set<string>;
  try {
    available = new Set(readFileSync('/sys/fs/cgroup/cgroup.controllers', 'utf8').trim().split(/\s+/));
  } catch (err) {
    throw new Undetermined(errnoOf(err));
  }
  // cpuacct and blkio are cpu and io on the unified hierarchy.
  const v2 = (w: string): string => (w === 'cpuacct' ? 'cpu' : w === 'blkio' ? 'io' : w);
  return wanted.every((w) => w.startsWith('bpf-') || available.has(v2(w)));
}

function orderOperand(p: string): [Op, string] {
  const parsed = compareOperator(p, false, false);
  return parsed ?? ['ge', p];
}

function cpus(p: string): boolean {
  const [op, rest] = orderOperand(p);
  if (!/^\s*\d+$/.test(rest)) throw new Undetermined('EINVAL');
  return testOrder(Math.sign(availableParallelism() - Number(rest.trim())), op);
}

/** physical_memory(): RAM, or less when our cgroup's memory.max says so. */
function physicalMemory(): bigint {
  let m = BigInt(totalmem());
  try {
    const cg = readFileSync('/proc/self/cgroup', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('0::'));
    if (cg) {
      const max = readFileSync(`/sys/fs/cgroup${cg.slice(3)}/memory.max`, 'utf8').trim();
      if (/^\d+$/.test(max) && BigInt(max) < m) m = BigInt(max);
    }
  } catch {
    /* no limit to read */
  }
  return m;
}

function memory(p: string): boolean {
  const [op, rest] = orderOperand(p);
  const k = parseSize(rest);
  if (!k.ok) throw new Undetermined(k.error);
  const m = physicalMemory();
  return testOrder(m < k.value ? -1 : m > k.value ? 1 : 0, op);
}

/** The manager's environment (manager_get_effective_environment()): the daemon's own. */
function environment(p: string): boolean {
  const equal = p.includes('=');
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined) continue;
    if (equal ? `${k}=${v}` === p : k === p) return true;
  }
  return false;
}

/** has_cpu_with_flag(): the flags /proc/cpuinfo lists (257 asks cpuid; the names are the kernel's). */
function cpuFeature(p: string): boolean {
  let text: string;
  try {
    text = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return false;
  }
  const want = p.toLowerCase();
  for (const line of text.split('\n')) {
    const m = /^(flags|Features)\s*:\s*(.*)$/.exec(line);
    if (m && (m[2] as string).split(/\s+/).includes(want)) return true;
  }
  return false;
}
