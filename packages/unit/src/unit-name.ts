/** Unit names (src/basic/unit-name.c): validity, prefix/instance split, escaping. */

export type UnitType =
  'service' | 'socket' | 'target' | 'device' | 'mount' | 'automount' | 'swap' | 'timer' | 'path' | 'slice' | 'scope';
const TYPES = new Set<string>([
  'service',
  'socket',
  'target',
  'device',
  'mount',
  'automount',
  'swap',
  'timer',
  'path',
  'slice',
  'scope',
]);

/** UNIT_NAME_MAX. */
export const UNIT_NAME_MAX = 256;

export interface UnitName {
  prefix: string;
  /** Instance (escaped) for `prefix@instance.type`; '' for a template `prefix@.type`; undefined for plain names. */
  instance?: string;
  type: UnitType;
  template: boolean;
}

const PREFIX_RE = /^[A-Za-z0-9:_.\\-]+$/;
const INSTANCE_RE = /^[A-Za-z0-9:_.\\@-]*$/;

/** Splits and validates a unit name (unit_name_is_valid + unit_name_to_prefix/instance). */
export function parseUnitName(name: string): UnitName | undefined {
  if (name.length === 0 || name.length >= UNIT_NAME_MAX) return undefined;
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const type = name.slice(dot + 1);
  if (!TYPES.has(type)) return undefined;
  const base = name.slice(0, dot);
  const at = base.indexOf('@');
  if (at < 0) {
    if (!PREFIX_RE.test(base)) return undefined;
    return { prefix: base, type: type as UnitType, template: false };
  }
  const prefix = base.slice(0, at);
  const instance = base.slice(at + 1);
  if (prefix === '' || !PREFIX_RE.test(prefix) || !INSTANCE_RE.test(instance)) return undefined;
  return { prefix, instance, type: type as UnitType, template: instance === '' };
}

/** The template name of an instance: `foo@bar.service` → `foo@.service`. */
export function templateOf(name: string): string | undefined {
  const u = parseUnitName(name);
  if (!u || u.instance === undefined) return undefined;
  return `${u.prefix}@.${u.type}`;
}

/** unit_name_unescape(): `-` → `/`, `\xHH` → that character (%I, %P, %J). */
export function unescapeUnitInstance(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (c === '-') out += '/';
    else if (c === '\\' && s[i + 1] === 'x' && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 2, i + 4))) {
      out += String.fromCharCode(Number.parseInt(s.slice(i + 2, i + 4), 16));
      i += 3;
    } else out += c;
  }
  return out;
}

/** unit_name_path_unescape(): `-` → `/`, `\xHH` decoded, with a leading `/`; empty or `-` → `/`. */
export function unescapeUnitPath(s: string): string {
  if (s === '' || s === '-') return '/';
  const u = unescapeUnitInstance(s);
  return u.startsWith('/') ? u : '/' + u;
}

/** unit_name_escape(): `/` → `-`, other unsafe chars → `\xHH`. */
export function escapeUnitName(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (c === '/') out += '-';
    else if ((c === '.' && i === 0) || !/[A-Za-z0-9:_.]/.test(c))
      out += `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
    else out += c;
  }
  return out;
}
