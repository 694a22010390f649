/**
 * The directive registry (src/directives.ts tables, src/registry.ts): what is derived from the rows
 * (defaults, printing, openSocket() options) and the invariants that keep it one registry.
 */
import { describe, expect, it } from 'vitest';
import { SOCKET_OPTION_DESCRIPTORS } from '@mptcp/constants';
import { SERVICE_TABLE, SOCKET_TABLE, UNIT_TABLE, socketOptionValues } from '../src/directives.js';
import { KEY_CHECKS, SERVICE_SECTION_KEYS, SOCKET_SECTION_KEYS, UNIT_SECTION_KEYS } from '../src/known-keys.js';
import { defaultServiceUnit, defaultSocketUnit, parseUnitText } from '../src/parse.js';
import { printSocketUnit } from '../src/print.js';
import type { SocketUnit } from '../src/model.js';

const TABLES = [
  ['Unit', UNIT_TABLE, UNIT_SECTION_KEYS],
  ['Socket', SOCKET_TABLE, SOCKET_SECTION_KEYS],
  ['Service', SERVICE_TABLE, SERVICE_SECTION_KEYS],
] as const;

interface AnyRow {
  field?: string;
  optional?: boolean;
  default?: unknown;
  section?: true;
  sockopt?: string | { field: string };
}
const rowsOf = (t: object): Array<[string, AnyRow]> => Object.entries(t) as Array<[string, AnyRow]>;

function socket(lines: string): SocketUnit {
  const r = parseUnitText(`[Socket]\nListenStream=127.0.0.1:8080\n${lines}\n`, {
    file: '/r/x.socket',
    executables: false,
    liteWarnings: false,
  });
  expect(r.diagnostics).toEqual([]);
  if (r.unit?.kind !== 'socket') throw new Error('not a socket unit');
  return r.unit;
}

describe('one registry', () => {
  it.each(TABLES)('[%s]: KEY_CHECKS lists no key the table parses', (section, table) => {
    const checks = Object.keys(KEY_CHECKS[section] ?? {});
    expect(checks.length).toBeGreaterThan(0);
    expect(checks.filter((k) => Object.prototype.hasOwnProperty.call(table, k))).toEqual([]);
  });

  it.each(TABLES)('[%s]: every row is a key systemd 257 knows (or our X- extension)', (_section, table, known) => {
    expect(Object.keys(table).filter((k) => !known.has(k) && !k.startsWith('X-'))).toEqual([]);
  });

  it('every setsockopt descriptor is fed by exactly one [Socket] row, and every row names a descriptor', () => {
    const fed = rowsOf(SOCKET_TABLE)
      .filter(([, r]) => r.sockopt !== undefined)
      .map(([, r]) => (typeof r.sockopt === 'string' ? r.sockopt : r.sockopt?.field));
    const fields = SOCKET_OPTION_DESCRIPTORS.map((d) => d.field);
    expect([...fed].sort()).toEqual([...fields].sort());
    const byDirective = rowsOf(SOCKET_TABLE)
      .filter(([, r]) => r.sockopt !== undefined)
      .map(([k]) => k);
    expect(byDirective.sort()).toEqual(SOCKET_OPTION_DESCRIPTORS.map((d) => d.directive).sort());
  });
});

describe('derived from the rows', () => {
  it('the empty unit has each required value row default; optional rows are unset', () => {
    const s = defaultSocketUnit('x.socket', '/r/x.socket') as unknown as Record<string, unknown>;
    const v = defaultServiceUnit('x.service', '/r/x.service') as unknown as Record<string, unknown>;
    for (const [table, unit] of [
      [SOCKET_TABLE, s],
      [SERVICE_TABLE, v],
      [UNIT_TABLE, s['unit'] as Record<string, unknown>],
    ] as const) {
      for (const [key, row] of rowsOf(table)) {
        if (row.field === undefined) continue;
        if (row.optional) expect(unit[row.field], key).toBeUndefined();
        else expect(unit[row.field], key).toEqual(row.default);
      }
    }
    expect(s['noDelay']).toBe(false);
    expect(s['backlog']).toBe(2147483647);
    expect(v['killSignal']).toBe('SIGTERM');
  });

  it('a value row is printed only when it differs from its default, with its type format', () => {
    const text = printSocketUnit(socket('NoDelay=no\nSocketMode=0600\nTimeoutSec=0\nIPTTL=7\nTimestamping=nsec'));
    expect(text).toContain('SocketMode=0600\n');
    expect(text).toContain('TimeoutSec=infinity\n');
    expect(text).toContain('IPTTL=7\n');
    expect(text).toContain('Timestamping=ns\n');
    expect(text).not.toContain('NoDelay=');
  });

  it('socketOptionValues(): the setsockopt rows, encoded for openSocket()', () => {
    expect(
      socketOptionValues(
        socket(
          'NoDelay=yes\nKeepAliveTimeSec=90s\nKeepAliveIntervalSec=1500ms\nDeferAcceptSec=1500ms\nTimestamping=ns\nIPTOS=low-delay\nBindToDevice=lo\nTCPCongestion=reno',
        ),
      ),
    ).toEqual({
      reusePort: false,
      freeBind: false,
      transparent: false,
      keepAlive: false,
      broadcast: false,
      passCredentials: false,
      passSecurity: false,
      passPacketInfo: false,
      noDelay: true,
      keepAliveTimeSec: 90,
      keepAliveIntervalSec: 1, // rounded down, as before
      deferAcceptSec: 2, // rounded up: TCP_DEFER_ACCEPT 0 would turn it off
      timestamping: 'ns',
      ipTos: 16,
      bindToDevice: 'lo',
      tcpCongestion: 'reno',
    });
    // Unset optional settings are left out; DeferAcceptSec=0 is "off".
    expect(Object.keys(socketOptionValues(socket('DeferAcceptSec=0')))).not.toContain('deferAcceptSec');
  });
});
