/**
 * CapabilityBoundingSet= and AmbientCapabilities= as systemd 257 reads them
 * (config_parse_capability_set(), capability_set_from_string(), capability_from_name()): a
 * whitespace-separated list of names (`CAP_NET_ADMIN`, case-insensitive) or numbers 0…62; unknown
 * ones are skipped. A leading `~` inverts the assignment. An empty assignment (or one that names
 * nothing) replaces: `CapabilityBoundingSet=` is the empty set, `CapabilityBoundingSet=~` all of
 * them. Otherwise the first assignment replaces the default (all caps for the bounding set, none
 * for the ambient set) and later ones merge: OR'ed, or with `~` AND-NOT'ed.
 */

/** The capability names, by number (linux/capability.h; CAP_CHECKPOINT_RESTORE = 40 is the last 257 names). */
export const CAPABILITY_NAMES: readonly string[] = [
  'cap_chown',
  'cap_dac_override',
  'cap_dac_read_search',
  'cap_fowner',
  'cap_fsetid',
  'cap_kill',
  'cap_setgid',
  'cap_setuid',
  'cap_setpcap',
  'cap_linux_immutable',
  'cap_net_bind_service',
  'cap_net_broadcast',
  'cap_net_admin',
  'cap_net_raw',
  'cap_ipc_lock',
  'cap_ipc_owner',
  'cap_sys_module',
  'cap_sys_rawio',
  'cap_sys_chroot',
  'cap_sys_ptrace',
  'cap_sys_pacct',
  'cap_sys_admin',
  'cap_sys_boot',
  'cap_sys_nice',
  'cap_sys_resource',
  'cap_sys_time',
  'cap_sys_tty_config',
  'cap_mknod',
  'cap_lease',
  'cap_audit_write',
  'cap_audit_control',
  'cap_setfcap',
  'cap_mac_override',
  'cap_mac_admin',
  'cap_syslog',
  'cap_wake_alarm',
  'cap_block_suspend',
  'cap_audit_read',
  'cap_perfmon',
  'cap_bpf',
  'cap_checkpoint_restore',
];

/** systemd's CAP_LIMIT: the highest capability number a unit may name. */
const CAP_LIMIT = 62;
/** CAP_MASK_ALL: every capability bit systemd can store (0…62). */
export const CAP_MASK_ALL = (1n << 63n) - 1n;
const U64 = (1n << 64n) - 1n;

const BY_NAME = new Map(CAPABILITY_NAMES.map((n, i) => [n, i]));

/** capability_from_name(): a number 0…62 or a known name (any case); undefined otherwise. */
export function capabilityFromName(word: string): number | undefined {
  if (/^[0-9]+$/.test(word)) {
    const n = Number(word);
    return n <= CAP_LIMIT ? n : undefined;
  }
  return BY_NAME.get(word.toLowerCase());
}

/** `cap_net_bind_service` → `CAP_NET_BIND_SERVICE`; an unnamed bit as its number. */
export function capabilityName(n: number): string {
  return CAPABILITY_NAMES[n]?.toUpperCase() ?? String(n);
}

/** The words of one assignment (extract_first_word() with unquoting: quotes group, backslash escapes). */
function words(value: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | undefined;
  let any = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && i + 1 < value.length) cur += value[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      any = true;
    } else if (c === '\\' && i + 1 < value.length) {
      cur += value[++i];
      any = true;
    } else if (/\s/.test(c)) {
      if (any || cur) out.push(cur);
      cur = '';
      any = false;
    } else cur += c;
  }
  if (any || cur) out.push(cur);
  return out;
}

/** The mask one assignment names (unknown names skipped) and whether it is inverted. */
function assignment(value: string): { invert: boolean; sum: bigint } {
  const invert = value.startsWith('~');
  let sum = 0n;
  for (const w of words(invert ? value.slice(1) : value)) {
    const n = capabilityFromName(w);
    if (n !== undefined) sum |= 1n << BigInt(n);
  }
  return { invert, sum };
}

/**
 * The set the assignments of `key` give, in order (config_parse_capability_set()). `initial` is the
 * default (all for the bounding set, none for the ambient set).
 */
export function capabilitySet(values: readonly string[], initial: bigint): bigint {
  let set = initial;
  for (const v of values) {
    const { invert, sum } = assignment(v);
    if (sum === 0n || set === initial) set = invert ? ~sum & U64 : sum;
    else set = invert ? set & ~sum : set | sum;
  }
  return set;
}

/** CapabilityBoundingSet=: the capabilities kept (default all). */
export function boundingSet(values: readonly string[] | undefined): bigint {
  return capabilitySet(values ?? [], CAP_MASK_ALL);
}

/** AmbientCapabilities=: the capabilities raised (default none). */
export function ambientSet(values: readonly string[] | undefined): bigint {
  return capabilitySet(values ?? [], 0n);
}

let lastCap: number | undefined;

/** cap_last_cap(): the kernel's highest capability (/proc/sys/kernel/cap_last_cap), else 40. */
export function capLastCap(read: () => string): number {
  if (lastCap !== undefined) return lastCap;
  try {
    const n = Number(read().trim());
    lastCap = Number.isInteger(n) && n >= 0 && n <= CAP_LIMIT ? n : 40;
  } catch {
    lastCap = 40;
  }
  return lastCap;
}

/** Every capability the kernel has (bits 0…cap_last_cap). */
export function allCapabilities(last: number): bigint {
  return (1n << BigInt(last + 1)) - 1n;
}
