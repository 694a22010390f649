/**
 * The [Unit] table (both unit types), like systemd's load-fragment-gperf.gperf.in: one row per
 * key; its value rows fill the UnitSection, whose value fields are derived from them.
 */
import { CONDITION_DIRECTIVES } from './conditions.js';
import { pct } from './format.js';
import type { DirectiveParser } from './load-state.js';
import { quoteWord } from './quoting.js';
import { custom, oneOf, parseFailed, parsersOf, SEC, UNSIGNED, value, type ModelFields } from './registry.js';
import { parseUnitName } from './unit-name.js';
import { parseBoolean } from './values/boolean.js';
import { parseSec } from './values/timespan.js';
import { type UnitSectionCore, unitSection, expandOrWarn, forEachWord, store } from './directive-helpers.js';

const JOB_MODES = [
  'fail',
  'replace',
  'replace-irreversibly',
  'isolate',
  'flush',
  'ignore-dependencies',
  'ignore-requirements',
  'triggering',
  'restart-dependencies',
];
/** Kept verbatim after a check with its own message. */
function keepIf(ok: (v: string) => boolean, message: (v: string, key: string) => string): DirectiveParser {
  return (v, c) => (ok(v) ? store('unit', v, c) : c.warn(message(v, c.key)));
}

/** config_parse_unit_deps(): words (no unquoting), each a loadable unit name, else a warning; kept verbatim. */
const dependency: DirectiveParser = (v, c) => {
  // systemd-analyze verify --recursive-errors=no (MANAGER_TEST_RUN_IGNORE_DEPENDENCIES): specifiers are
  // resolved, but unit_add_dependency_by_name() returns before looking at the name.
  const ignore = c.state.options.ignoreDependencies === true;
  forEachWord(
    v,
    { retainEscape: true },
    (word) => {
      const k = expandOrWarn(c, word, 'name');
      if (k === undefined || ignore) return;
      const n = parseUnitName(k);
      if (!n || n.template) c.warn(`Failed to add dependency on ${k}, ignoring: Invalid argument`);
      else if (k === c.state.unit.name) {
        c.state.diagnostics.push({
          severity: 'warning',
          file: c.file,
          unit: k,
          message: `Dependency ${c.key}=${k} is dropped.`,
        });
      }
    },
    () => c.warn(`Invalid syntax, ignoring: ${v}`),
  );
  store('unit', v, c);
};

const DEPENDENCIES = [
  'Requires',
  'Requisite',
  'Wants',
  'BindsTo',
  'BindTo',
  'Upholds',
  'Conflicts',
  'Before',
  'After',
  'OnSuccess',
  'OnFailure',
  'PropagatesReloadTo',
  'PropagateReloadTo',
  'ReloadPropagatedFrom',
  'PropagateReloadFrom',
  'PropagatesStopTo',
  'StopPropagatedFrom',
  'PartOf',
  'JoinsNamespaceOf',
];

/** config_parse_job_mode(): one of JOB_MODES, kept verbatim. */
const jobMode = keepIf(
  (v) => JOB_MODES.includes(v),
  (v, k) => `Failed to parse ${k}=${v}, ignoring: Invalid argument`,
);
/** config_parse_job_timeout_sec() & co.: a time span, with the message naming the key. */
const jobTimeout = keepIf(
  (v) => parseSec(v).ok,
  (v, k) => `Failed to parse ${k}= parameter, ignoring: ${v}`,
);

/**
 * The [Unit] table (both unit types), in the order the printer writes the settings back; its value
 * rows fill the UnitSection (`section: true`), whose value fields are derived from them.
 */
export const UNIT_TABLE = {
  ...Object.fromEntries(DEPENDENCIES.map((k) => [k, custom(dependency)])),
  OnSuccessJobMode: custom(jobMode),
  OnFailureJobMode: custom(jobMode),
  JobTimeoutSec: custom(jobTimeout),
  JobRunningTimeoutSec: custom(jobTimeout),
  OnFailureIsolate: custom((v, c) => {
    // config_parse_job_mode_isolate(): a plain log line (no file:line) for a valid value.
    if (!parseBoolean(v).ok) return c.warn(`Failed to parse boolean, ignoring: ${v}`);
    c.state.diagnostics.push({
      severity: 'warning',
      file: c.file,
      message: 'OnFailureIsolate is deprecated. Please use OnFailureJobMode= instead',
    });
    store('unit', v, c);
  }),
  Description: custom<UnitSectionCore>(
    (v, c) => {
      const k = expandOrWarn(c, v);
      if (k === undefined) return;
      unitSection(c).description = k === '' ? undefined : k;
      if (k === '') delete unitSection(c).description;
    },
    (u, key) => (u.description !== undefined ? [`${key}=${pct(u.description)}`] : []),
  ),
  Documentation: custom<UnitSectionCore>(
    (v, c) => {
      const u = unitSection(c);
      if (v === '') {
        u.documentation = [];
        return;
      }
      forEachWord(
        v,
        { unquote: true, retainEscape: true },
        (word) => {
          const k = expandOrWarn(c, word);
          if (k === undefined || k === '') return;
          if (!/^(https?|file|info|man):/.test(k)) c.warn(`Invalid URL, ignoring: ${k}`);
          else u.documentation.push(k);
        },
        () => parseFailed(c, v, 'EINVAL'),
      );
    },
    (u, key) => u.documentation.map((d) => `${key}=${pct(quoteWord(d))}`),
  ),
  StartLimitIntervalSec: value(SEC, 'startLimitIntervalUsec', 10_000_000, { section: true }),
  StartLimitInterval: value(SEC, 'startLimitIntervalUsec', 10_000_000, { section: true, unprinted: true }),
  StartLimitBurst: value(UNSIGNED, 'startLimitBurst', 5, { section: true }),
  // config_parse_emergency_action(): its own message.
  SuccessAction: value(
    oneOf([
      'none',
      'exit',
      'exit-force',
      'reboot',
      'reboot-force',
      'reboot-immediate',
      'poweroff',
      'poweroff-force',
      'poweroff-immediate',
      'halt',
      'halt-force',
      'halt-immediate',
      'kexec',
      'kexec-force',
      'soft-reboot',
      'soft-reboot-force',
    ]),
    'successAction',
    'none',
    {
      section: true,
      invalid: (v) => `Failed to parse SuccessAction=, ignoring: ${v}`,
    },
  ),
};

/** UnitSection's value fields, derived from the [Unit] table's value rows. */
export type UnitSectionValueFields = ModelFields<typeof UNIT_TABLE>;

export const UNIT_DIRECTIVES: Readonly<Record<string, DirectiveParser>> = {
  ...parsersOf(UNIT_TABLE),
  // Condition*=/Assert*=: kept verbatim in `extra` and parsed into `conditions`/`asserts`.
  ...CONDITION_DIRECTIVES,
};
