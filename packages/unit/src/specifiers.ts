/**
 * Unit specifiers (%n, %i, %H, …): systemd.unit(5) "SPECIFIERS", src/core/unit-printf.c and
 * src/shared/specifier.c. Host facts are injectable so that tests do not depend on the machine.
 */
import { readFileSync } from 'node:fs';
import { arch, hostname, release, userInfo } from 'node:os';
import type { Errno } from './errno.js';
import { parseUnitName, unescapeUnitInstance, unescapeUnitPath, UNIT_NAME_MAX, type UnitName } from './unit-name.js';

/** Facts about the host and the manager that specifiers expand to. */
export interface HostFacts {
  hostname: string;
  machineId: string;
  bootId: string;
  user: string;
  uid: number;
  group: string;
  gid: number;
  home: string;
  shell: string;
  architecture: string;
  kernelRelease: string;
  /** os-release fields: ID, VERSION_ID, BUILD_ID, VARIANT_ID, IMAGE_ID, IMAGE_VERSION. */
  osRelease: Readonly<Record<string, string>>;
  prettyHostname: string;
  /** %t (runtime dir): /run for the system manager. */
  runtimeDir: string;
  stateDir: string;
  cacheDir: string;
  logsDir: string;
  configDir: string;
  tmpDir: string;
  varTmpDir: string;
}

function readTrim(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

function osRelease(): Record<string, string> {
  const out: Record<string, string> = {};
  const text = readTrim('/etc/os-release') || readTrim('/usr/lib/os-release');
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(?:"(.*)"|'(.*)'|(.*))$/.exec(line.trim());
    if (m) out[m[1] as string] = m[2] ?? m[3] ?? m[4] ?? '';
  }
  return out;
}

const ARCH: Readonly<Record<string, string>> = {
  x64: 'x86-64',
  ia32: 'x86',
  arm64: 'arm64',
  arm: 'arm',
  ppc64: 'ppc64-le',
  s390x: 's390x',
  riscv64: 'riscv64',
  loong64: 'loongarch64',
};

/** The system manager's directories (%t %S %C %L %E %T %V). */
const SYSTEM_DIRS = {
  runtimeDir: '/run',
  stateDir: '/var/lib',
  cacheDir: '/var/cache',
  logsDir: '/var/log',
  configDir: '/etc',
  tmpDir: '/tmp',
  varTmpDir: '/var/tmp',
} as const;

let cachedFacts: HostFacts | undefined;

/** This machine's facts (computed once). */
export function machineHostFacts(): HostFacts {
  if (cachedFacts) return cachedFacts;
  let user = 'root';
  let uid = 0;
  let gid = 0;
  let home = '/root';
  let shell = '/bin/sh';
  try {
    const u = userInfo();
    user = u.username;
    uid = u.uid;
    gid = u.gid;
    home = u.homedir;
    shell = u.shell ?? shell;
  } catch {
    /* keep defaults */
  }
  let group = String(gid);
  for (const line of readTrim('/etc/group').split('\n')) {
    const f = line.split(':');
    if (f[2] === String(gid) && f[0]) {
      group = f[0];
      break;
    }
  }
  cachedFacts = {
    hostname: hostname(),
    machineId: readTrim('/etc/machine-id'),
    bootId: readTrim('/proc/sys/kernel/random/boot_id').replace(/-/g, ''),
    user,
    uid,
    group,
    gid,
    home,
    shell,
    architecture: ARCH[arch()] ?? arch(),
    kernelRelease: release(),
    osRelease: osRelease(),
    prettyHostname:
      readTrim('/etc/machine-info')
        .match(/^PRETTY_HOSTNAME=(.*)$/m)?.[1]
        ?.replace(/^"|"$/g, '') ?? '',
    ...SYSTEM_DIRS,
  };
  return cachedFacts;
}

/** Deterministic facts for tests and for the corpus generator. */
export const TEST_HOST_FACTS: HostFacts = Object.freeze({
  hostname: 'testhost.example.org',
  machineId: '0123456789abcdef0123456789abcdef',
  bootId: 'fedcba9876543210fedcba9876543210',
  user: 'root',
  uid: 0,
  group: 'root',
  gid: 0,
  home: '/root',
  shell: '/bin/sh',
  architecture: 'x86-64',
  kernelRelease: '6.18.0-test',
  osRelease: Object.freeze({ ID: 'debian', VERSION_ID: '12' }),
  prettyHostname: 'Test Host',
  ...SYSTEM_DIRS,
});

export interface SpecifierContext {
  /** Full unit name, e.g. `foo@bar.socket`. */
  name: string;
  /** The fragment path (%y). */
  file?: string;
  host: HostFacts;
}

/** Which specifier table: the full one, or unit_name_printf()'s restricted set (Service=, Sockets=). */
export type SpecifierSet = 'full' | 'name';

const NAME_SET = new Set('ijnNp' + 'aAbBHlqmMovwW' + 'gGuU');

/** What a specifier reads: the host facts and the unit's name split into prefix and instance. */
interface Names {
  h: HostFacts;
  ctx: SpecifierContext;
  unit: UnitName | undefined;
  prefix: string;
  instance: string;
}

type HostText = { [K in keyof HostFacts]: HostFacts[K] extends string | number ? K : never }[keyof HostFacts];
const host =
  (k: HostText) =>
  (n: Names): string =>
    String(n.h[k]);
const osRelease_ =
  (k: string) =>
  (n: Names): string =>
    n.h.osRelease[k] ?? '';
const lastDash = (s: string): string => (s.includes('-') ? s.slice(s.lastIndexOf('-') + 1) : s);

/** The specifier table (src/core/unit-printf.c, src/shared/specifier.c): letter → value. */
const SPECIFIERS: Readonly<Record<string, (n: Names) => string>> = {
  a: host('architecture'),
  A: osRelease_('IMAGE_VERSION'),
  b: host('bootId'),
  B: osRelease_('BUILD_ID'),
  C: host('cacheDir'),
  d: (n) => `${n.h.runtimeDir}/credentials/${n.ctx.name}`,
  D: () => '/usr/share',
  E: host('configDir'),
  f: (n) => unescapeUnitPath(n.instance !== '' ? n.instance : n.prefix),
  g: host('group'),
  G: host('gid'),
  h: host('home'),
  H: host('hostname'),
  i: (n) => n.instance,
  I: (n) => unescapeUnitInstance(n.instance),
  j: (n) => lastDash(n.prefix),
  J: (n) => unescapeUnitInstance(lastDash(n.prefix)),
  l: (n) => n.h.hostname.split('.')[0] ?? n.h.hostname,
  L: host('logsDir'),
  m: host('machineId'),
  M: osRelease_('IMAGE_ID'),
  n: (n) => n.ctx.name,
  N: (n) =>
    n.unit ? (n.unit.instance !== undefined ? `${n.unit.prefix}@${n.unit.instance}` : n.unit.prefix) : n.ctx.name,
  o: osRelease_('ID'),
  p: (n) => n.prefix,
  P: (n) => unescapeUnitInstance(n.prefix),
  q: (n) => n.h.prettyHostname || n.h.hostname,
  s: host('shell'),
  S: host('stateDir'),
  t: host('runtimeDir'),
  T: host('tmpDir'),
  u: host('user'),
  U: host('uid'),
  v: host('kernelRelease'),
  V: host('varTmpDir'),
  w: osRelease_('VERSION_ID'),
  W: osRelease_('VARIANT_ID'),
  y: (n) => n.ctx.file ?? '',
  Y: (n) => (n.ctx.file ? n.ctx.file.slice(0, Math.max(1, n.ctx.file.lastIndexOf('/'))) : ''),
};

function lookup(c: string, ctx: SpecifierContext): string | undefined {
  const spec = Object.prototype.hasOwnProperty.call(SPECIFIERS, c) ? SPECIFIERS[c] : undefined;
  if (!spec) return undefined;
  const unit = parseUnitName(ctx.name);
  return spec({ h: ctx.host, ctx, unit, prefix: unit?.prefix ?? ctx.name, instance: unit?.instance ?? '' });
}

/**
 * specifier_printf(): `%%` → `%`; `%X` with X a known specifier → its value; `%` + another letter or
 * digit → EBADSLT ("Invalid slot"); `%` + anything else, or a trailing `%`, is kept.
 */
export function expandSpecifiers(
  text: string,
  ctx: SpecifierContext,
  set: SpecifierSet = 'full',
): { ok: true; value: string } | { ok: false; error: Errno } {
  // unit_name_printf(): specifier_printf(…, UNIT_NAME_MAX, …) refuses a longer result.
  if (set === 'name' && text.length > UNIT_NAME_MAX && !text.includes('%')) return { ok: false, error: 'ENAMETOOLONG' };
  if (!text.includes('%')) return { ok: true, value: text };
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c !== '%') {
      out += c;
      continue;
    }
    const n = text[i + 1];
    if (n === undefined) {
      out += '%';
      break;
    }
    i++;
    if (n === '%') {
      out += '%';
      continue;
    }
    const v = set === 'name' && !NAME_SET.has(n) ? undefined : lookup(n, ctx);
    if (v !== undefined) out += v;
    else if (/[A-Za-z0-9]/.test(n)) return { ok: false, error: 'EBADSLT' };
    else out += '%' + n;
  }
  if (set === 'name' && out.length > UNIT_NAME_MAX) return { ok: false, error: 'ENAMETOOLONG' };
  return { ok: true, value: out };
}
