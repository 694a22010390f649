/**
 * The directive registry's machinery. A row of a section table carries everything about one key:
 * its parser, and for a value row (one field set by one value type) the model field, its default,
 * its printer and, for a [Socket] option applied with setsockopt, the @mptcp/constants descriptor
 * field its value feeds. The model's value fields are derived from the rows (`ModelFields`), the
 * empty unit's defaults from `defaultsOf`, printing from `printRows`, openSocket()'s options from
 * `socketOptionsOf`: adding a directive is one row.
 */
import type { SocketOptionField, SocketOptionValues } from '@mptcp/constants';
import { fail, ok, strerror, type Parsed } from './errno.js';
import type { DirectiveContext, DirectiveParser } from './load-state.js';
import type { BindIPv6Only } from './model.js';
import { parseBoolean } from './values/boolean.js';
import { parseBindIPv6Only, parseIpTos, parseTimestamping } from './values/enums.js';
import { parseInteger, parseMode, parseUnsigned } from './values/integer.js';
import { parseSize } from './values/size.js';
import { formatTimespan, parseSec, parseSecFix0, usecToNumber, type Timespan } from './values/timespan.js';

/**
 * log_syntax_parse_error() (systemd >= 255): the message nearly every value parser prints,
 * `Failed to parse KEY=VALUE, ignoring: <strerror>`.
 */
export function parseFailed(c: DirectiveContext, v: string, errno: string): void {
  c.warn(`Failed to parse ${c.key}=${v}, ignoring: ${strerror(errno)}`);
}

/** "X= is not supported by mptcpd-lite, ignoring" when the parsed value is not the default. */
export function lite(row: DirectiveParser, isSet: (c: DirectiveContext) => boolean = () => true): DirectiveParser {
  return (v, c) => {
    const before = c.state.diagnostics.length;
    row(v, c);
    if (c.state.diagnostics.length === before && v !== '' && c.state.options.liteWarnings !== false && isSet(c)) {
      c.warn(`${c.key}= is not supported by mptcpd-lite, ignoring`);
    }
  };
}

// ---- value types --------------------------------------------------------------------------------

/** A value type: systemd's parser of it (DEFINE_CONFIG_PARSE_*) and how a value is written back. */
export interface ValueType<T> {
  parse(v: string): Parsed<T>;
  format(v: T): string;
}

const usec =
  (parse: (v: string) => Parsed<Timespan>) =>
  (v: string): Parsed<number> => {
    const r = parse(v);
    return r.ok ? ok(usecToNumber(r.value)) : r;
  };

export const BOOL: ValueType<boolean> = { parse: parseBoolean, format: (v) => (v ? 'yes' : 'no') };
export const UNSIGNED: ValueType<number> = { parse: parseUnsigned, format: String };
export const INT: ValueType<number> = { parse: (v) => parseInteger(v, 32), format: String };
export const LONG: ValueType<number> = { parse: (v) => parseInteger(v, 64), format: String };
export const MODE: ValueType<number> = { parse: parseMode, format: (n) => '0' + n.toString(8) };
/** A time span in µs (Infinity = "infinity"). */
export const SEC: ValueType<number> = { parse: usec(parseSec), format: formatTimespan };
/** config_parse_sec_fix_0: 0 = infinity. */
export const SEC_FIX0: ValueType<number> = { parse: usec(parseSecFix0), format: formatTimespan };
export const SIZE: ValueType<number> = {
  parse: (v) => {
    const r = parseSize(v);
    return r.ok ? ok(Number(r.value)) : r;
  },
  format: String,
};
export const IP_TOS: ValueType<number> = { parse: parseIpTos, format: String };
export const BIND_IPV6_ONLY: ValueType<BindIPv6Only> = { parse: parseBindIPv6Only, format: String };
export const TIMESTAMPING: ValueType<'off' | 'us' | 'ns'> = { parse: parseTimestamping, format: String };
/** Any string, verbatim. */
export const STRING: ValueType<string> = { parse: ok, format: (s) => s };

/** One of fixed words (DEFINE_CONFIG_PARSE_ENUM): anything else is EINVAL. */
export function oneOf<const T extends string>(values: readonly T[]): ValueType<T> {
  return {
    parse: (v) => ((values as readonly string[]).includes(v) ? ok(v as T) : fail('EINVAL')),
    format: (v) => v,
  };
}

// ---- rows ---------------------------------------------------------------------------------------

/** One row of a section table. `print` gives the lines that write the unit's setting back. */
export interface DirectiveRow<U> {
  readonly parse: DirectiveParser;
  readonly print?: (u: U, key: string) => readonly string[];
}

/** A row whose value is given to openSocket() as the @mptcp/constants descriptor field `field`. */
export type SockoptLink<T> =
  | SocketOptionField
  | { readonly field: SocketOptionField; readonly encode: (v: T) => boolean | number | string | undefined };

export interface RowOptions<T> {
  /** Values that unset an optional field (default: none; systemd's "empty resets" is `(v) => v === ''`). */
  readonly resets?: (v: string) => boolean;
  /** The row's own warning for a value its type refuses (default: `Failed to parse KEY=VALUE, ignoring: …`). */
  readonly invalid?: (v: string) => string;
  /** Not honoured by mptcpd-lite: warn `always` (any valid non-empty value) or `if-set` (not the default). */
  readonly lite?: 'always' | 'if-set';
  /** A [Socket] option: the openSocket() field it feeds. */
  readonly sockopt?: SockoptLink<T>;
  /** Not written back by the printer: an alias of a row that is (print → parse must give the model back). */
  readonly unprinted?: true;
  /** The field is the [Unit] section's (UnitSection), not the unit's. */
  readonly section?: true;
}

/** A value row: `field` of the unit, of type `T`, required with a default or `optional`. */
export interface ValueRow<F extends string, T, O extends boolean> extends DirectiveRow<object>, RowOptions<T> {
  readonly field: F;
  readonly type: ValueType<T>;
  readonly optional: O;
  readonly default: O extends true ? undefined : T;
}

type Fields = Record<string, unknown>;

function makeRow<F extends string, T, O extends boolean>(
  type: ValueType<T>,
  field: F,
  optional: O,
  def: T | undefined,
  opts: RowOptions<T>,
): ValueRow<F, T, O> {
  const target = (c: DirectiveContext): Fields =>
    (opts.section ? c.state.unit.unit : c.state.unit) as unknown as Fields;
  const set: DirectiveParser = (v, c) => {
    const u = target(c);
    if (opts.resets?.(v)) {
      delete u[field];
      return;
    }
    const r = type.parse(v);
    if (r.ok) u[field] = r.value;
    else if (opts.invalid) c.warn(opts.invalid(v));
    else parseFailed(c, v, r.error);
  };
  const isSet = (c: DirectiveContext): boolean => target(c)[field] !== def;
  const parse = opts.lite === undefined ? set : lite(set, opts.lite === 'if-set' ? isSet : undefined);
  const print = (u: object, key: string): string[] => {
    const v = (u as Fields)[field] as T | undefined;
    return v === undefined || v === def ? [] : [`${key}=${type.format(v)}`];
  };
  const row = { ...opts, field, type, optional, default: def as ValueRow<F, T, O>['default'], parse };
  return opts.unprinted ? row : { ...row, print };
}

/** A required field with systemd's default (printed only when it differs). */
export function value<const F extends string, T>(
  type: ValueType<T>,
  field: F,
  def: NoInfer<T>,
  opts: RowOptions<NoInfer<T>> = {},
): ValueRow<F, T, false> {
  return makeRow(type, field, false, def, opts);
}

/** An optional field (unset by default, printed when set). */
export function optional<const F extends string, T>(
  type: ValueType<T>,
  field: F,
  opts: RowOptions<NoInfer<T>> = {},
): ValueRow<F, T, true> {
  return makeRow(type, field, true, undefined, opts);
}

/** A row with its own parser and printer (its field is declared in the model by hand). */
export function custom<U>(parse: DirectiveParser, print?: (u: U, key: string) => readonly string[]): DirectiveRow<U> {
  return print ? { parse, print } : { parse };
}

type AnyValueRow = ValueRow<string, unknown, boolean>;

function isValueRow(row: object): row is AnyValueRow {
  return 'field' in row && 'type' in row;
}

// ---- what is derived from a table ---------------------------------------------------------------

type RowValue<R> = R extends { type: ValueType<infer T> } ? T : never;

/** The model fields of a table's value rows: required ones with a default, optional ones `?`. */
export type ModelFields<Rows> = {
  -readonly [
    K in keyof Rows as Rows[K] extends { field: infer F extends string; optional: false } ? F : never
  ]: RowValue<Rows[K]>;
} & {
  -readonly [
    K in keyof Rows as Rows[K] extends { field: infer F extends string; optional: true } ? F : never
  ]?: RowValue<Rows[K]>;
};

/** The defaults of a table's required value rows (the empty unit's fields). */
export function defaultsOf(rows: Readonly<Record<string, object>>): Fields {
  const out: Fields = {};
  for (const row of Object.values(rows)) if (isValueRow(row) && !row.optional) out[row.field] = row.default;
  return out;
}

/** The parsers of a table, by key (what the section's config_parse() looks up). */
export function parsersOf(rows: Readonly<Record<string, DirectiveRow<never>>>): Record<string, DirectiveParser> {
  return Object.fromEntries(Object.entries(rows).map(([k, r]) => [k, r.parse]));
}

/** The unit's settings written back, in the table's order. */
export function printRows<U>(rows: Readonly<Record<string, DirectiveRow<U>>>, u: U): string[] {
  const out: string[] = [];
  for (const [key, row] of Object.entries(rows)) if (row.print) out.push(...row.print(u, key));
  return out;
}

/** A table's `sockopt` rows, in table order: model field, openSocket() field, encoder. */
interface SockoptRow {
  field: string;
  option: string;
  encode: ((v: never) => boolean | number | string | undefined) | undefined;
}

const sockoptRowsOf = new WeakMap<object, SockoptRow[]>();

function sockoptRows(rows: Readonly<Record<string, object>>): SockoptRow[] {
  let list = sockoptRowsOf.get(rows);
  if (!list) {
    list = [];
    for (const row of Object.values(rows)) {
      if (!isValueRow(row) || row.sockopt === undefined) continue;
      const link = row.sockopt;
      list.push(
        typeof link === 'string'
          ? { field: row.field, option: link, encode: undefined }
          : { field: row.field, option: link.field, encode: link.encode },
      );
    }
    sockoptRowsOf.set(rows, list);
  }
  return list;
}

/**
 * The openSocket() options of a unit: every row with a `sockopt`, its value encoded (unset values
 * left out). The rows are picked from the table once (the daemon asks for every socket it opens).
 */
export function socketOptionsOf(rows: Readonly<Record<string, object>>, u: object): SocketOptionValues {
  const out: Record<string, boolean | number | string> = {};
  const list = sockoptRows(rows);
  for (let i = 0; i < list.length; i++) {
    const r = list[i] as SockoptRow;
    const v = (u as Fields)[r.field] as boolean | number | string | undefined;
    if (v === undefined) continue;
    const encoded = r.encode === undefined ? v : r.encode(v as never);
    if (encoded !== undefined) out[r.option] = encoded;
  }
  return out;
}
