/**
 * Unit specifiers (%n, %i, %H, …): systemd.unit(5) "SPECIFIERS", src/core/unit-printf.c and
 * src/shared/specifier.c. Host facts are injectable so that tests do not depend on the machine.
 */
import { readFileSync } from 'node:fs';
import { arch, hostname, release, userInfo } from 'node:os';
import type { Errno } from './errno.js';
import { parseUnitName, unescapeUnitInstance, unescapeUnitPath, UNIT_NAME_MAX } from './unit-name.js';

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
    runtimeDir: '/run',
    stateDir: '/var/lib',
    cacheDir: '/var/cache',
    logsDir: '/var/log',
    configDir: '/etc',
    tmpDir: '/tmp',
    varTmpDir: '/var/tmp',
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
  runtimeDir: '/run',
  stateDir: '/var/lib',
  cacheDir: '/var/cache',
  logsDir: '/var/log',
  configDir: '/etc',
  tmpDir: '/tmp',
  varTmpDir: '/var/tmp',
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

function lookup(c: string, ctx: SpecifierContext): string | undefined {
  const h = ctx.host;
  const u = parseUnitName(ctx.name);
  const prefix = u?.prefix ?? ctx.name;
  const instance = u?.instance ?? '';
  const lastDash = (s: string) => (s.includes('-') ? s.slice(s.lastIndexOf('-') + 1) : s);
  switch (c) {
    case 'a':
      return h.architecture;
    case 'A':
      return h.osRelease['IMAGE_VERSION'] ?? '';
    case 'b':
      return h.bootId;
    case 'B':
      return h.osRelease['BUILD_ID'] ?? '';
    case 'C':
      return h.cacheDir;
    case 'd':
      return `${h.runtimeDir}/credentials/${ctx.name}`;
    case 'D':
      return '/usr/share';
    case 'E':
      return h.configDir;
    case 'f':
      return instance !== '' ? unescapeUnitPath(instance) : unescapeUnitPath(prefix);
    case 'g':
      return h.group;
    case 'G':
      return String(h.gid);
    case 'h':
      return h.home;
    case 'H':
      return h.hostname;
    case 'i':
      return instance;
    case 'I':
      return unescapeUnitInstance(instance);
    case 'j':
      return lastDash(prefix);
    case 'J':
      return unescapeUnitInstance(lastDash(prefix));
    case 'l':
      return h.hostname.split('.')[0] ?? h.hostname;
    case 'L':
      return h.logsDir;
    case 'm':
      return h.machineId;
    case 'M':
      return h.osRelease['IMAGE_ID'] ?? '';
    case 'n':
      return ctx.name;
    case 'N':
      return u ? (u.instance !== undefined ? `${u.prefix}@${u.instance}` : u.prefix) : ctx.name;
    case 'o':
      return h.osRelease['ID'] ?? '';
    case 'p':
      return prefix;
    case 'P':
      return unescapeUnitInstance(prefix);
    case 'q':
      return h.prettyHostname || h.hostname;
    case 's':
      return h.shell;
    case 'S':
      return h.stateDir;
    case 't':
      return h.runtimeDir;
    case 'T':
      return h.tmpDir;
    case 'u':
      return h.user;
    case 'U':
      return String(h.uid);
    case 'v':
      return h.kernelRelease;
    case 'V':
      return h.varTmpDir;
    case 'w':
      return h.osRelease['VERSION_ID'] ?? '';
    case 'W':
      return h.osRelease['VARIANT_ID'] ?? '';
    case 'y':
      return ctx.file ?? '';
    case 'Y':
      return ctx.file ? ctx.file.slice(0, Math.max(1, ctx.file.lastIndexOf('/'))) : '';
    default:
      return undefined;
  }
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
