/**
 * Models back to unit-file text. parseUnitText(printXUnit(u)) gives `u` back (file/line
 * bookkeeping aside), which the print → parse property test checks. What each setting looks like
 * is its row's printer (src/directives.ts); this file only lays out the sections.
 */
import { SERVICE_TABLE, SOCKET_TABLE, UNIT_TABLE } from './directives.js';
import type { ServiceUnit, SocketUnit } from './model.js';
import { printRows, type DirectiveRow } from './registry.js';

export { formatListenValue } from './format.js';

type Verbatim = Readonly<Record<string, readonly string[]>>;

const verbatim = (rec: Verbatim): string[] => Object.entries(rec).flatMap(([k, vs]) => vs.map((v) => `${k}=${v}`));

/** [Unit], the unit's own section from `table`, then [Install] when it has assignments. */
function printUnit<U extends SocketUnit | ServiceUnit>(
  u: U,
  section: string,
  table: Readonly<Record<string, DirectiveRow<U>>>,
): string {
  const lines = ['[Unit]', ...printRows(UNIT_TABLE, u.unit), ...verbatim(u.unit.extra)];
  lines.push('', `[${section}]`, ...printRows(table, u), ...verbatim(u.extra));
  if (Object.keys(u.install).length > 0) lines.push('', '[Install]', ...verbatim(u.install));
  return lines.join('\n') + '\n';
}

/** Renders a SocketUnit as unit-file text. */
export function printSocketUnit(u: SocketUnit): string {
  return printUnit(u, 'Socket', SOCKET_TABLE);
}

/** Renders a ServiceUnit as unit-file text. */
export function printServiceUnit(u: ServiceUnit): string {
  return printUnit(u, 'Service', SERVICE_TABLE);
}
