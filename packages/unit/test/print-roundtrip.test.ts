/**
 * parse → print → parse gives the same model, for every row of the [Service] and [Socket] tables
 * (each key with every value of the generators' pools that the parser takes without a warning and
 * that changes the model) and for the generated corpora of src/testing.ts (generateUnitCorpus(),
 * randomUnits257()). A row whose setting the printer drops fails here.
 */
import { describe, expect, it } from 'vitest';
import {
  parseUnitText,
  printServiceUnit,
  printSocketUnit,
  staticInterfaceResolver,
  TEST_HOST_FACTS,
  type ServiceUnit,
  type SocketUnit,
} from '../src/index.js';
import { SERVICE_TABLE, SOCKET_TABLE } from '../src/directives.js';
import { generateUnitCorpus, R_VALUES, randomUnits257, SERVICE_OPTIONS, SOCKET_OPTIONS } from '../src/testing.js';

const options = {
  host: TEST_HOST_FACTS,
  interfaces: staticInterfaceResolver({ lo: 1, eth0: 2 }),
  executables: false,
  liteWarnings: false,
} as const;

/** Values the random pools lack for some rows (enum words, signals, counts, paths). */
const EXTRA_VALUES = [
  'all',
  'abort',
  'main',
  'exec',
  'none',
  'restart',
  'SIGHUP',
  'SIGUSR2',
  'SIGRTMIN+3',
  '4',
  '10s',
  '5min',
  '/run/x.pid',
  'x.pid',
  'notify',
  'oneshot',
  'dbus',
  'org.example.svc',
  'always',
  'process',
  'pam-svc',
  'tty',
  'null',
  'inherit',
  'socket',
  'other.socket',
  'daemon',
  '127.0.0.1:1235',
  '[::1]:1236',
  '/run/y.sock',
  'eth0',
  'cubic',
  'web',
  '/run/link',
  '-/bin/false',
  'foo.service',
];

const valueOf = (line: string): string => line.slice(line.indexOf('=') + 1);
const POOL = [
  ...new Set([...R_VALUES, ...SOCKET_OPTIONS.map(valueOf), ...SERVICE_OPTIONS.map(valueOf), ...EXTRA_VALUES]),
];

/** The model without bookkeeping (file names, line numbers, raw text, expanded Listen text). */
function normalize(u: unknown): unknown {
  return JSON.parse(
    JSON.stringify(u, (k, v: unknown) => {
      if (k === 'file' || k === 'line' || k === 'raw' || k === 'value' || k === 'dropIns' || k === 'name')
        return undefined;
      return v === Infinity ? 'Infinity' : v;
    }),
  );
}

const print = (u: SocketUnit | ServiceUnit): string => (u.kind === 'socket' ? printSocketUnit(u) : printServiceUnit(u));

/** Parses `text`; prints the model; parses that; both models must be equal and the printed text clean. */
function roundTrip(file: string, text: string): { first: unknown; printed: string; second: unknown; notes: string[] } {
  const a = parseUnitText(text, { ...options, file });
  if (!a.unit) throw new Error(`${file} did not load:\n${text}`);
  const printed = print(a.unit as SocketUnit | ServiceUnit);
  const b = parseUnitText(printed, { ...options, file });
  return {
    first: normalize(a.unit),
    printed,
    second: normalize(b.unit),
    // What the printed text warns about beyond what the original did.
    notes: b.diagnostics
      .filter((d) => !a.diagnostics.some((o) => o.message === d.message))
      .map((d) => `${d.line ?? ''}: ${d.message}`),
  };
}

const SECTIONS = [
  { section: 'Service', file: 'rt.service', head: '[Service]\nExecStart=/bin/true\n', table: SERVICE_TABLE },
  { section: 'Socket', file: 'rt.socket', head: '[Socket]\nListenStream=127.0.0.1:1234\n', table: SOCKET_TABLE },
] as const;

/** Rows that need another unit around them (a second ExecStart= needs Type=oneshot; Symlinks= a path socket). */
const HEAD_FOR: Readonly<Record<string, string>> = {
  ExecStart: '[Service]\nType=oneshot\nExecStart=/bin/true\n',
  Symlinks: '[Socket]\nListenStream=/run/rt.sock\n',
};

describe('print → parse keeps every row of the tables', () => {
  for (const { section, file, head, table } of SECTIONS) {
    for (const key of Object.keys(table)) {
      it(`[${section}] ${key}=`, () => {
        const start = HEAD_FOR[key] ?? head;
        const baseModel = normalize(parseUnitText(start, { ...options, file }).unit);
        let effective = 0;
        for (const v of POOL) {
          const text = `${start}${key}=${v}\n`;
          const r = parseUnitText(text, { ...options, file });
          if (!r.unit || r.diagnostics.length > 0) continue;
          if (JSON.stringify(normalize(r.unit)) === JSON.stringify(baseModel)) continue;
          effective++;
          const rt = roundTrip(file, text);
          expect(rt.notes, rt.printed).toEqual([]);
          expect(rt.second, `${key}=${v} printed as:\n${rt.printed}`).toEqual(rt.first);
        }
        // Every row is exercised by at least one value that changes the model.
        expect(effective, `no value of the pools sets ${key}=`).toBeGreaterThan(0);
      });
    }
  }
});

describe('print → parse over the generated corpora', () => {
  const units = [
    ...generateUnitCorpus(150, 7),
    ...randomUnits257(20261130, 300).filter((f) => /^r\d+\.(socket|service)$/.test(f.name)),
  ];
  it(`${units.length} units of generateUnitCorpus() and randomUnits257()`, () => {
    let checked = 0;
    for (const f of units) {
      const a = parseUnitText(f.text, { ...options, file: f.name });
      if (!a.unit || a.fatal) continue;
      const rt = roundTrip(f.name, f.text);
      expect(rt.notes, `${f.name}:\n${f.text}\nprinted:\n${rt.printed}`).toEqual([]);
      expect(rt.second, `${f.name}:\n${f.text}\nprinted:\n${rt.printed}`).toEqual(rt.first);
      checked++;
    }
    expect(checked).toBeGreaterThan(units.length / 2);
  });
});
