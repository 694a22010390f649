/**
 * Where verify() differs from systemd 257 on purpose (packages/unit/README.md, "Differences from
 * systemd 257"). Each entry names its reason and the recorded units it applies to; the conformance
 * test fails if an entry no longer matches a recorded unit.
 */

export interface Deliberate {
  reason: string;
  /** [case, file] of the recorded units it applies to. */
  units: Array<[string, string]>;
  /** 257's strict lines → the lines we print. */
  lines?: (want: string[]) => string[];
  /** Our rc where it differs. */
  strict?: number;
  default?: number;
}

/** `Failed to parse X-MPTCPFallback=…`: ours alone (systemd ignores every X- key). */
export const OUR_KEY_LINE = /: Failed to parse X-MPTCPFallback=.*, ignoring: Invalid argument$/;

export const DELIBERATE: Deliberate[] = [
  {
    reason:
      'Without --recursive-errors=, systemd 257 also loads the dependencies (Requires=, BindsTo=, Requisite=, the dbus.socket of BusName=) and fails when one is missing; verify() checks the unit and the service it triggers, not the dependency graph',
    units: [
      ['directives-unit', 'k-unit-BindTo.socket'],
      ['directives-unit', 'k-unit-BindsTo.socket'],
      ['directives-unit', 'k-unit-Requires.socket'],
      ['directives-unit', 'k-unit-Requisite.socket'],
      ['directives-service', 'k-service-BusName.service'],
    ],
    default: 0,
  },
];

export function deliberate(name: string, file: string): Deliberate | undefined {
  return DELIBERATE.find((d) => d.units.some(([c, f]) => c === name && f === file));
}

export interface Comparable {
  lines: string[];
  strict: number;
  default: number;
}

/**
 * What we must print for a recorded unit: 257's lines and rcs with the deliberate differences
 * applied, compared with ours minus the X-MPTCPFallback= warnings (ours alone: a bad value of our
 * key is warned about, and counts with --recursive-errors=no like any warning).
 */
export function expected(
  name: string,
  file: string,
  want: { strict: { rc: number; lines: string[] }; default: { rc: number } },
  got: Comparable,
): { want: Comparable; got: Comparable } {
  const d = deliberate(name, file);
  const lines = got.lines.filter((l) => !OUR_KEY_LINE.test(l));
  const ourKey = lines.length !== got.lines.length;
  return {
    want: {
      lines: d?.lines ? d.lines(want.strict.lines) : want.strict.lines,
      strict: d?.strict ?? (ourKey ? 1 : want.strict.rc),
      default: d?.default ?? want.default.rc,
    },
    got: { lines, strict: got.strict, default: got.default },
  };
}
