import { readdirSync, readFileSync } from 'node:fs';
import { parseInteger } from './values/integer.js';

/** Resolves network interface names and indexes (systemd asks rtnetlink; we read sysfs). Injectable for tests. */
export interface InterfaceResolver {
  /** Interface index for a name, or undefined when there is no such interface (→ ENODEV). */
  indexOf(name: string): number | undefined;
  /** Interface name for an index, or undefined. */
  nameOf(index: number): string | undefined;
}

/** The machine's interfaces, from /sys/class/net/<name>/ifindex (read on every call: interfaces come and go). */
export const sysfsInterfaceResolver: InterfaceResolver = {
  indexOf(name: string): number | undefined {
    if (name.includes('/') || name === '.' || name === '..') return undefined;
    try {
      const n = Number.parseInt(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8').trim(), 10);
      return Number.isInteger(n) && n > 0 ? n : undefined;
    } catch {
      return undefined;
    }
  },
  nameOf(index: number): string | undefined {
    try {
      for (const name of readdirSync('/sys/class/net')) {
        if (this.indexOf(name) === index) return name;
      }
    } catch {
      /* no sysfs */
    }
    return undefined;
  },
};

/** A fixed table of interfaces, for tests. */
export function staticInterfaceResolver(table: Readonly<Record<string, number>>): InterfaceResolver {
  return {
    indexOf: (name) => (Object.prototype.hasOwnProperty.call(table, name) ? table[name] : undefined),
    nameOf: (index) => Object.keys(table).find((k) => table[k] === index),
  };
}

/** ifname_valid_full() (network-util.c): IFNAME_VALID_ALTERNATIVE = long names, NUMERIC = an ifindex is fine. */
export function ifnameValid(name: string, options: { alternative?: boolean; numeric?: boolean } = {}): boolean {
  if (name === '') return false;
  // A valid ifindex (safe_atoi() > 0: "7", "0x7", "0o7") is valid exactly when numeric names are allowed.
  const n = parseInteger(name);
  if (n.ok && n.value > 0) return options.numeric === true;
  if (Buffer.byteLength(name) >= (options.alternative ? 128 : 16)) return false;
  if (name === '.' || name === '..' || name === 'all' || name === 'default') return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 127 || c <= 32 || c === 0x3a || c === 0x2f || c === 0x25) return false;
  }
  // Fully numeric but not an ifindex (0, too large): refused.
  return !/^\d+$/.test(name);
}
