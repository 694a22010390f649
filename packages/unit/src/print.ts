/**
 * Models back to unit-file text. parseUnitText(printXUnit(u)) gives `u` back (file/line
 * bookkeeping aside), which the print → parse property test checks.
 */
import { DEFAULT_TIMEOUT_USEC } from './defaults.js';
import { SERVICE_TABLE, SOCKET_TABLE } from './directives.js';
import { execLine, pct } from './format.js';
import type { ExecCommand, ServiceUnit, SocketUnit, UnitSection } from './model.js';
import { defaultServiceUnit, defaultSocketUnit } from './parse.js';
import { quoteWord } from './quoting.js';
import { printRows } from './registry.js';
import { formatTimespan } from './values/timespan.js';

export { formatListenValue } from './format.js';

class Writer {
  readonly lines: string[] = [];
  section(name: string): void {
    if (this.lines.length > 0) this.lines.push('');
    this.lines.push(`[${name}]`);
  }
  set(key: string, value: string | number | boolean | undefined): void {
    if (value === undefined) return;
    this.lines.push(`${key}=${typeof value === 'boolean' ? (value ? 'yes' : 'no') : String(value)}`);
  }
  /** Only when different from the default. */
  diff<T>(key: string, value: T, def: T, fmt: (v: T) => string = String): void {
    if (value !== def) this.lines.push(`${key}=${fmt(value)}`);
  }
  bool(key: string, value: boolean, def = false): void {
    if (value !== def) this.lines.push(`${key}=${value ? 'yes' : 'no'}`);
  }
  verbatim(rec: Readonly<Record<string, readonly string[]>>): void {
    for (const [k, vs] of Object.entries(rec)) for (const v of vs) this.lines.push(`${k}=${v}`);
  }
  exec(key: string, list: readonly ExecCommand[]): void {
    for (const c of list) this.lines.push(`${key}=${execLine(c)}`);
  }
  text(): string {
    return this.lines.join('\n') + '\n';
  }
}

const oct = (n: number): string => '0' + n.toString(8);

function writeUnitSection(w: Writer, u: UnitSection, def: UnitSection): void {
  w.section('Unit');
  if (u.description !== undefined) w.set('Description', pct(u.description));
  for (const d of u.documentation) w.set('Documentation', pct(quoteWord(d)));
  w.diff('StartLimitIntervalSec', u.startLimitIntervalUsec, def.startLimitIntervalUsec, formatTimespan);
  w.diff('StartLimitBurst', u.startLimitBurst, def.startLimitBurst);
  w.diff('SuccessAction', u.successAction, def.successAction);
  w.verbatim(u.extra);
}

function writeInstall(w: Writer, install: Readonly<Record<string, readonly string[]>>): void {
  if (Object.keys(install).length === 0) return;
  w.section('Install');
  w.verbatim(install);
}

/** Renders a SocketUnit as unit-file text. */
export function printSocketUnit(u: SocketUnit): string {
  const d = defaultSocketUnit(u.name, u.file);
  const w = new Writer();
  writeUnitSection(w, u.unit, d.unit);
  w.section('Socket');
  w.lines.push(...printRows(SOCKET_TABLE, u));
  w.verbatim(u.extra);
  writeInstall(w, u.install);
  return w.text();
}

/** Renders a ServiceUnit as unit-file text. */
export function printServiceUnit(u: ServiceUnit): string {
  const d = defaultServiceUnit(u.name, u.file);
  const w = new Writer();
  writeUnitSection(w, u.unit, d.unit);
  w.section('Service');
  w.lines.push(...printRows(SERVICE_TABLE, u));
  w.verbatim(u.extra);
  writeInstall(w, u.install);
  return w.text();
}
