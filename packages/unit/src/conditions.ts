/**
 * Condition*= and Assert*= of [Unit] (load-fragment.c config_parse_unit_condition_path() and
 * config_parse_unit_condition_string() of systemd 257): a leading `|` makes the check a triggering
 * one, then `!` negates it (the string forms skip blanks after each; the path forms do not, so
 * `! /etc` is a relative path, warned about and ignored). Specifiers are resolved (a failure is
 * warned about, the assignment ignored); a path must be absolute (path_simplify_and_warn()). An
 * empty value resets the unit's whole list (every Condition*=, or every Assert*=), as 257 does.
 * The values stay verbatim in `extra` too (printing); the parsed checks go to `conditions` /
 * `asserts`, in the order written (257 prepends, and evaluates the list from its head: the
 * evaluator walks these from the last).
 *
 * Types mptcpd-lite cannot evaluate outside PID 1 (ConditionFirmware=, the pressure ones,
 * PathIsEncrypted=, and Security= values it cannot see) are refused at load with FILE:LINE when
 * liteWarnings is on: the unit fails to load and does not start (fail closed), never passes silently.
 */
import { checkPath, expand, store, unitSection } from './directive-helpers.js';
import type { DirectiveContext, DirectiveParser } from './load-state.js';
import type { UnitCondition } from './model.js';

/** The types whose argument is a path (config_parse_unit_condition_path). */
export const PATH_CONDITION_TYPES: ReadonlySet<string> = new Set([
  'PathExists',
  'PathExistsGlob',
  'PathIsDirectory',
  'PathIsSymbolicLink',
  'PathIsMountPoint',
  'PathIsReadWrite',
  'PathIsEncrypted',
  'DirectoryNotEmpty',
  'FileNotEmpty',
  'FileIsExecutable',
  'NeedsUpdate',
]);

/** The types whose argument is a string (config_parse_unit_condition_string). */
export const STRING_CONDITION_TYPES: ReadonlySet<string> = new Set([
  'FirstBoot',
  'Architecture',
  'Firmware',
  'Virtualization',
  'Host',
  'KernelCommandLine',
  'KernelVersion',
  'Credential',
  'Security',
  'Capability',
  'ACPower',
  'Memory',
  'CPUFeature',
  'CPUs',
  'Environment',
  'User',
  'Group',
  'ControlGroupController',
  'OSRelease',
  'MemoryPressure',
  'CPUPressure',
  'IOPressure',
]);

/** Types (and ConditionSecurity= values) mptcpd-lite refuses at load: it cannot evaluate them. */
export const UNSUPPORTED_CONDITION_TYPES: ReadonlySet<string> = new Set([
  'Firmware',
  'MemoryPressure',
  'CPUPressure',
  'IOPressure',
  'PathIsEncrypted',
]);
export const UNSUPPORTED_SECURITY_VALUES: ReadonlySet<string> = new Set([
  'audit',
  'uefi-secureboot',
  'tpm2',
  'cvm',
  'measured-uki',
]);

const BLANKS = /^[ \t\n\r]*/;

function conditionRow(kind: 'Condition' | 'Assert', type: string): DirectiveParser {
  const isPath = PATH_CONDITION_TYPES.has(type);
  return (v, c) => {
    store('unit', v, c);
    const u = unitSection(c);
    const field = kind === 'Condition' ? 'conditions' : 'asserts';
    if (v === '') {
      // Empty assignment resets the list (all types of this kind).
      u[field] = [];
      return;
    }
    let rest = v;
    const trigger = rest.startsWith('|');
    if (trigger) rest = isPath ? rest.slice(1) : rest.slice(1).replace(BLANKS, '');
    const negate = rest.startsWith('!');
    if (negate) rest = isPath ? rest.slice(1) : rest.slice(1).replace(BLANKS, '');
    let parameter: string | undefined;
    if (isPath) {
      const k = expand(c, rest, (err) => c.warn(`Failed to resolve unit specifiers in ${rest}, ignoring: ${err}`));
      if (k === undefined) return;
      parameter = checkPath(c, k);
      if (parameter === undefined) return;
    } else {
      parameter = expand(c, rest, (err) => c.warn(`Failed to resolve unit specifiers in '${rest}', ignoring: ${err}`));
      if (parameter === undefined) return;
    }
    if (refused(c, type, parameter)) return;
    const cond: UnitCondition = { key: c.key, type, trigger, negate, parameter, file: c.file, line: c.line };
    (u[field] ??= []).push(cond);
  };
}

/** An unsupported type or value: a load error (FILE:LINE), unless liteWarnings is off (verify as 257). */
function refused(c: DirectiveContext, type: string, parameter: string): boolean {
  if (c.state.options.liteWarnings === false) return false;
  if (UNSUPPORTED_CONDITION_TYPES.has(type)) {
    c.fatal(`${c.key}= is not supported by mptcpd-lite (it cannot evaluate it), refusing to load the unit`);
    return true;
  }
  if (type === 'Security' && UNSUPPORTED_SECURITY_VALUES.has(parameter)) {
    c.fatal(`${c.key}=${parameter} is not supported by mptcpd-lite (it cannot evaluate it), refusing to load the unit`);
    return true;
  }
  return false;
}

/** The [Unit] table's rows for every Condition*= and Assert*= key. */
export const CONDITION_DIRECTIVES: Readonly<Record<string, DirectiveParser>> = Object.fromEntries(
  (['Condition', 'Assert'] as const).flatMap((kind) =>
    [...PATH_CONDITION_TYPES, ...STRING_CONDITION_TYPES]
      // 257 has no AssertFirmware= key (load-fragment-gperf.gperf.in).
      .filter((t) => !(kind === 'Assert' && t === 'Firmware'))
      .map((t) => [`${kind}${t}`, conditionRow(kind, t)]),
  ),
);
