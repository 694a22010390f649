/**
 * The conformance-vector checker shared by the vitest suite and scripts/run-vectors.mjs. It reads
 * the shared vector format ({description, count, vectors:[{input, expected, …}]}) of the three
 * kinds — conf-syntax, socket addresses, values — and checks one vector against this package.
 */
import { parseSocketProtocol } from '@mptcp/constants';
import { parseNetlinkAddress, parseSocketAddress, printSocketAddress } from './address.js';
import { strerror } from './errno.js';
import { staticInterfaceResolver, type InterfaceResolver } from './interfaces.js';
import type { Diagnostic, ListenAddress, SocketUnit } from './model.js';
import { classifyUnitSection, isKnownKey, parseUnitText } from './parse.js';
import { TEST_HOST_FACTS, type HostFacts } from './specifiers.js';
import { parseSyntax, type Assignment, type SectionClass } from './syntax.js';
import { parseBoolean } from './values/boolean.js';
import { parseBindIPv6Only, parseIpTos } from './values/enums.js';
import { parseIpPort, parseMode, parseUnsigned } from './values/integer.js';
import { parseSize } from './values/size.js';
import { parseSec, parseSecFix0 } from './values/timespan.js';

export type VectorKind = 'conf-syntax' | 'socket-addresses' | 'values';

/** One vector as stored in the shared JSON files. */
export interface Vector {
  input: unknown;
  expected: Record<string, unknown>;
  source?: string;
  note?: string;
  kind?: string;
  parser?: string;
  parser_context?: string;
  context?: string;
  versions?: string;
}

export interface VectorFile {
  description: string;
  count?: number;
  vectors: Vector[];
}

export interface VectorCheck {
  /** Empty when the vector passes. */
  problems: string[];
}

export interface VectorOptions {
  /** Interfaces for `%scope` addresses; default: lo = 1 only (so that `nonexistent0` is ENODEV). */
  interfaces?: InterfaceResolver;
  host?: HostFacts;
  /** Unit name used for unit-file-context vectors. */
  unitName?: string;
}

/** Detects the kind of a vector file from its contents. */
export function detectVectorKind(file: VectorFile): VectorKind {
  if (file.vectors.every((v) => typeof v.kind === 'string')) return 'values';
  const confLike = file.vectors.some((v) => {
    const e = v.expected;
    return (
      'assignments' in e || 'systemd_output' in e || 'result' in e || (typeof v.input === 'object' && v.input !== null)
    );
  });
  return confLike ? 'conf-syntax' : 'socket-addresses';
}

// ---- helpers -------------------------------------------------------------------------------------

const eq = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
const show = (v: unknown): string => {
  const s = JSON.stringify(v);
  return s.length > 160 ? `${s.slice(0, 120)}…(${s.length} chars)` : s;
};

/** Evaluates the tiny Python expressions of `generator` inputs: string literals, ints, +, *, parentheses. */
export function evalPythonStringExpr(src: string): string {
  let i = 0;
  const ws = () => {
    while (i < src.length && /\s/.test(src[i] as string)) i++;
  };
  const lit = (): string => {
    const q = src[i] as string;
    i++;
    let out = '';
    while (i < src.length && src[i] !== q) {
      if (src[i] === '\\') {
        const n = src[i + 1] as string;
        const map: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', '0': '\0' };
        out += map[n] ?? '\\' + n;
        i += 2;
      } else out += src[i++];
    }
    i++;
    return out;
  };
  const factor = (): string | number => {
    ws();
    const c = src[i];
    if (c === "'" || c === '"') return lit();
    if (c === '(') {
      i++;
      const v = expr();
      ws();
      i++; // ')'
      return v;
    }
    const m = /^\d+/.exec(src.slice(i));
    if (!m) throw new Error(`bad generator expression at ${i}: ${src.slice(i, i + 20)}`);
    i += m[0].length;
    return Number(m[0]);
  };
  const term = (): string | number => {
    let v = factor();
    for (;;) {
      ws();
      if (src[i] !== '*') return v;
      i++;
      const r = factor();
      v = typeof v === 'string' ? v.repeat(r as number) : typeof r === 'string' ? r.repeat(v) : v * r;
    }
  };
  const expr = (): string | number => {
    let v = term();
    for (;;) {
      ws();
      if (src[i] !== '+') return v;
      i++;
      const r = term();
      v = typeof v === 'number' && typeof r === 'number' ? v + r : String(v) + String(r);
    }
  };
  const v = expr();
  return String(v);
}

/** The input as bytes/text: generators evaluated, `\xHH (raw byte 0xHH)` turned into that byte. */
export function vectorInput(v: Vector): string | Uint8Array {
  if (typeof v.input === 'object' && v.input !== null && 'generator' in v.input) {
    return evalPythonStringExpr(String((v.input as { generator: unknown }).generator));
  }
  const s = String(v.input);
  const raw = /\\x([0-9a-fA-F]{2}) \(raw byte 0x[0-9a-fA-F]{2}\)/;
  const m = raw.exec(s);
  if (!m) return s;
  const before = Buffer.from(s.slice(0, m.index), 'utf8');
  const after = Buffer.from(s.slice(m.index + m[0].length), 'utf8');
  return Buffer.concat([before, Buffer.from([Number.parseInt(m[1] as string, 16)]), after]);
}

// ---- conf-syntax ---------------------------------------------------------------------------------

interface Trace {
  assignments: Assignment[];
  warnings: Array<{ line: number; message: string }>;
  fatal?: { line: number; errno: string; message: string };
}

function traceSyntax(input: string | Uint8Array, context: string | undefined): Trace {
  const out: Trace = { assignments: [], warnings: [] };
  const unitContext = context?.startsWith('unit file') ?? false;
  const generic = context?.startsWith('generic config file') ?? false;
  let classifySection: ((s: string) => SectionClass) | undefined;
  if (unitContext) classifySection = (s) => classifyUnitSection('socket', s);
  else if (generic) classifySection = (s) => (s === 'Section' ? 'known' : s === 'NoWarnSection' ? 'silent' : 'unknown');
  const r = parseSyntax(input, {
    ...(classifySection ? { classifySection } : {}),
    onWarning: (w) => out.warnings.push(w),
    onAssignment: (a) => {
      const known = unitContext
        ? isKnownKey('socket', a.section, a.key)
        : generic
          ? a.section === 'Section' && a.key === 'setting1'
          : true;
      if (known) out.assignments.push(a);
      else if (!a.key.startsWith('X-'))
        out.warnings.push({ line: a.line, message: `Unknown key '${a.key}' in section [${a.section}], ignoring.` });
    },
  });
  if (r.fatal) out.fatal = r.fatal;
  return out;
}

/** `line N: message` segments of the free-text `systemd_output` field. */
function outputSegments(text: string): Array<{ fatal: boolean; line: number; message: string }> {
  const out: Array<{ fatal: boolean; line: number; message: string }> = [];
  const re = /(FATAL )?line (\d+): /g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) {
    const start = m.index + m[0].length;
    const rest = text.slice(start);
    const stop = /\s+\/\s+(?=line \d+:)|\s+->\s|\s+then\s|\s{2}(?=[A-Z][A-Za-z]+ = ')/.exec(rest);
    const message = stop ? rest.slice(0, stop.index) : rest;
    out.push({ fatal: m[1] !== undefined, line: Number(m[2]), message: message.replace(/\\xff/g, '\uFFFD') });
  }
  return out;
}

function checkConfSyntax(v: Vector, o: VectorOptions): string[] {
  const problems: string[] = [];
  const e = v.expected;
  const input = vectorInput(v);
  if (typeof v.input === 'object' && v.input !== null && 'length_of_line' in v.input) {
    const want = Number((v.input as { length_of_line: unknown }).length_of_line);
    const got = String(input).split('\n')[1]?.length;
    if (got !== want) problems.push(`generator produced a line of ${String(got)} chars, vector says ${want}`);
  }
  const t = traceSyntax(input, v.parser_context);
  if (e['assignments'] !== undefined) {
    const got = t.assignments.map((a) => ({ section: a.section, key: a.key, value: a.value, line: a.line }));
    if (!eq(got, e['assignments'])) problems.push(`assignments: got ${show(got)}, expected ${show(e['assignments'])}`);
  }
  const expectWarnings = e['warnings'] ?? e['parser_warnings'];
  if (expectWarnings !== undefined && !eq(t.warnings, expectWarnings))
    problems.push(`warnings: got ${show(t.warnings)}, expected ${show(expectWarnings)}`);
  if (e['final'] !== undefined) {
    const final: Record<string, string> = {};
    for (const a of t.assignments) final[`${a.section}.${a.key}`] = a.value;
    if (!eq(final, e['final'])) problems.push(`final: got ${show(final)}, expected ${show(e['final'])}`);
  }
  if (e['result'] === 'ok' && t.fatal) problems.push(`unexpected fatal error: ${t.fatal.message}`);
  if (e['result'] === 'error') {
    if (!t.fatal) problems.push('expected a fatal error, parse succeeded');
    else {
      if (e['error'] !== undefined && t.fatal.errno !== e['error'])
        problems.push(`errno: got ${t.fatal.errno}, expected ${String(e['error'])}`);
      const msg = String(e['message'] ?? '').replace(/^<file>:<line>: /, '');
      if (msg && t.fatal.message !== msg) problems.push(`message: got ${t.fatal.message}, expected ${msg}`);
    }
  }
  const fatal = e['fatal'] as { line: number; errno: string; message: string } | undefined;
  if (fatal && !eq(t.fatal, fatal)) problems.push(`fatal: got ${show(t.fatal)}, expected ${show(fatal)}`);
  if (typeof e['systemd_output'] === 'string') problems.push(...checkSystemdOutput(e['systemd_output'], input, o));
  return problems;
}

/**
 * The vectors quote the value-parser messages of systemd <= 254 (`Failed to parse sec value, ignoring:
 * 10foo`, `Failed to parse size value 'x', ignoring: …`). From 255 on (257 is what we follow) the same
 * event is printed by log_syntax_parse_error(): `Failed to parse KEY=VALUE, ignoring: <strerror>`.
 * A message matches when it is the same text, or the 257 form of the same value's parse failure.
 */
export function sameParseMessage(got: string, want: string): boolean {
  if (got === want) return true;
  const old =
    /^Failed to parse (?:[A-Za-z0-9 ]+? value|socket protocol|IP TOS value|bind IPv6 only value|timestamping precision|service type|service restart specifier|signal name|job mode)(?: '(.*)')?, ignoring: (.*)$/s.exec(
      want,
    );
  const now = /^Failed to parse [A-Za-z][A-Za-z0-9-]*=(.*), ignoring: [A-Z][a-z].*$/s.exec(got);
  if (!old || !now) return false;
  const value = old[1] ?? old[2];
  return value === now[1] || (value === '...' && old[1] === undefined);
}

/** Checks the whole-unit behaviour recorded in `systemd_output` (observed with systemd-analyze verify). */
function checkSystemdOutput(text: string, input: string | Uint8Array, o: VectorOptions): string[] {
  const problems: string[] = [];
  const name = o.unitName ?? 'vector.socket';
  const r = parseUnitText(input, {
    file: name,
    name,
    host: o.host ?? TEST_HOST_FACTS,
    interfaces: o.interfaces ?? staticInterfaceResolver({ lo: 1 }),
    executables: false,
    liteWarnings: false,
  });
  const lineDiags = r.diagnostics.filter((d) => d.line !== undefined);
  const segs = outputSegments(text);
  for (const s of segs) {
    const hit = lineDiags.find(
      (d) => d.line === s.line && sameParseMessage(d.message, s.message) && (d.severity === 'error') === s.fatal,
    );
    if (!hit)
      problems.push(
        `systemd_output: no ${s.fatal ? 'fatal' : 'warning'} "${s.line}: ${s.message}" (got ${show(lineDiags.map((d) => `${d.line}: ${d.message}`))})`,
      );
  }
  if (segs.length > 0 || /^no warning/.test(text)) {
    const extra = lineDiags.filter(
      (d) => !segs.some((s) => s.line === d.line && sameParseMessage(d.message, s.message)),
    );
    if (extra.length > 0)
      problems.push(`systemd_output: unexpected diagnostics ${show(extra.map((d) => `${d.line}: ${d.message}`))}`);
  }
  if (/FATAL|fails to load/.test(text) && !r.fatal) problems.push('systemd_output: expected the unit to fail loading');
  const loadError = /load error(?:: ([^(]*)| \((no Listen setting)\))/.exec(text);
  if (loadError) {
    const want = loadError[2] ? 'Unit has no Listen setting' : (loadError[1] as string).trim();
    if (!r.diagnostics.some((d: Diagnostic) => d.line === undefined && d.message.startsWith(want)))
      problems.push(`systemd_output: no load error "${want}"`);
  }
  const field = /;\s*([A-Za-z]+)=(\S+)$|\s{2}([A-Za-z]+) = '([^']*)'/.exec(text);
  if (field && r.unit) {
    const key = (field[1] ?? field[3]) as string;
    const want = (field[2] ?? field[4]) as string;
    const model =
      key === 'Description'
        ? r.unit.unit.description
        : (r.unit as unknown as Record<string, unknown>)[key[0]!.toLowerCase() + key.slice(1)];
    if (String(model) !== want) problems.push(`systemd_output: ${key} is ${String(model)}, expected ${want}`);
  }
  return problems;
}

// ---- socket addresses ----------------------------------------------------------------------------

const FAMILY: Readonly<Record<string, ListenAddress['family']>> = {
  AF_INET: 'inet',
  AF_INET6: 'inet6',
  AF_UNIX: 'unix',
  AF_VSOCK: 'vsock',
  AF_NETLINK: 'netlink',
};

function compareAddress(
  a: ListenAddress,
  e: Record<string, unknown>,
  resolver: InterfaceResolver,
  unitName: string,
): string[] {
  const p: string[] = [];
  const want = (k: string, got: unknown): void => {
    if (e[k] === undefined) return;
    const exp = typeof e[k] === 'string' ? (e[k] as string).replace(/<unit name incl\. \.socket>/g, unitName) : e[k];
    if (!eq(got, exp)) p.push(`${k}: got ${show(got)}, expected ${show(exp)}`);
  };
  want(
    'family',
    Object.keys(FAMILY).find((k) => FAMILY[k] === a.family),
  );
  if (a.family === 'inet' || a.family === 'inet6') {
    want('address', a.address);
    want('port', a.port);
  }
  if (a.family === 'inet6') {
    want('scope_id', a.scopeId);
    want('scope_ifname', a.ifname);
  }
  if (a.family === 'unix') {
    want('path', a.abstract ? `@${a.path}` : a.path);
    want('abstract', a.abstract);
  }
  if (a.family === 'vsock') {
    want('cid', a.cid);
    want('port', a.port);
    want('socket_type', a.type ? `SOCK_${a.type.toUpperCase()}` : 'SOCK_STREAM');
  }
  if (a.family === 'netlink') {
    want('protocol', `NETLINK_${a.protocol.toUpperCase().replace(/-/g, '_')}(${a.protocolNumber})`);
    want('groups', a.group);
  }
  if (a.family !== 'netlink') want('printed', printSocketAddress(a, resolver));
  return p;
}

function checkAddress(v: Vector, o: VectorOptions): string[] {
  const e = v.expected;
  const input = String(v.input);
  const resolver = o.interfaces ?? staticInterfaceResolver({ lo: 1 });
  const unitName = o.unitName ?? 'vector.socket';
  const wantErr = e['ok'] === false ? (String(e['error'] ?? 'error').split(' ')[0] as string) : undefined;
  if (v.context !== undefined) {
    const r = parseUnitText(`[Socket]\nListenStream=${input}\n`, {
      file: unitName,
      name: unitName,
      host: o.host ?? TEST_HOST_FACTS,
      interfaces: resolver,
      executables: false,
    });
    const warn = r.diagnostics.find((d) => d.line === 2);
    if (wantErr) {
      if (!warn) return [`expected a warning at line 2 (${wantErr}), got none`];
      if (!warn.message.endsWith(`: ${strerror(wantErr)}`))
        return [`warning "${warn.message}" does not end with ${strerror(wantErr)}`];
      return [];
    }
    if (warn) return [`unexpected warning: ${warn.message}`];
    const entry = (r.unit as SocketUnit | undefined)?.listen[0];
    if (!entry) return ['no listen entry'];
    return compareAddress(entry.address, e, resolver, unitName);
  }
  const r =
    v.parser === 'socket_address_parse_netlink'
      ? parseNetlinkAddress(input)
      : parseSocketAddress(input, { ipv6: true, interfaces: resolver });
  if (wantErr) {
    if (r.ok) return [`expected ${wantErr}, parsed ${show(r.value)}`];
    if (wantErr !== 'error' && r.error !== wantErr) return [`error: got ${r.error}, expected ${wantErr}`];
    return [];
  }
  if (!r.ok) return [`expected success, got ${r.error}`];
  return compareAddress(r.value, e, resolver, unitName);
}

// ---- values --------------------------------------------------------------------------------------

/** The [Socket] directive each value kind is checked through in a unit file (config_effect/message). */
const VALUE_DIRECTIVE: Readonly<Record<string, string>> = {
  boolean: 'KeepAlive',
  timespan_sec: 'KeepAliveTimeSec',
  size_iec: 'ReceiveBuffer',
  SocketProtocol: 'SocketProtocol',
  'SocketProtocol (systemd <= 256)': 'SocketProtocol',
  BindIPv6Only: 'BindIPv6Only',
  IPTOS: 'IPTOS',
  mode: 'SocketMode',
  unsigned: 'Backlog',
};

function parseValue(
  kind: string,
  input: string,
): { ok: true; fields: Record<string, unknown> } | { ok: false; error: string } {
  const wrap = <T>(r: { ok: true; value: T } | { ok: false; error: string }, f: (v: T) => Record<string, unknown>) =>
    r.ok ? { ok: true as const, fields: f(r.value) } : { ok: false as const, error: r.error };
  switch (kind) {
    case 'boolean':
      return wrap(parseBoolean(input), (v) => ({ value: v }));
    case 'timespan_sec':
      return wrap(parseSec(input), (v) => ({ usec: v.usec.toString(), infinity: v.infinity }));
    case 'size_iec':
      return wrap(parseSize(input), (v) => ({ bytes: v.toString() }));
    case 'BindIPv6Only':
      return wrap(parseBindIPv6Only(input), (v) => ({ value: v }));
    case 'IPTOS':
      return wrap(parseIpTos(input), (v) => ({ value: v }));
    case 'mode':
      return wrap(parseMode(input), (v) => ({ value_octal: '0' + v.toString(8).padStart(3, '0') }));
    case 'unsigned':
      return wrap(parseUnsigned(input), (v) => ({ value: v }));
    case 'ip_port':
      return wrap(parseIpPort(input), (v) => ({ value: v }));
    default:
      if (kind.startsWith('timespan_sec_fix_0'))
        return wrap(parseSecFix0(input), (v) => ({ usec: v.usec.toString(), infinity: v.infinity }));
      if (kind.startsWith('SocketProtocol')) {
        const r = parseSocketProtocol(input, kind.includes('<= 256') ? 256 : 257);
        return r.ok ? { ok: true, fields: { protocol: r.protocol } } : { ok: false, error: r.error };
      }
      throw new Error(`unknown value kind ${kind}`);
  }
}

function checkValue(v: Vector, o: VectorOptions): string[] {
  const kind = String(v.kind);
  const e = v.expected;
  const input = String(v.input);
  const problems: string[] = [];
  const r = parseValue(kind, input);
  if (e['ok'] === true) {
    if (!r.ok) return [`expected success, got ${r.error}`];
    for (const [k, want] of Object.entries(e)) {
      if (k === 'ok') continue;
      if (!eq(r.fields[k], want)) problems.push(`${k}: got ${show(r.fields[k])}, expected ${show(want)}`);
    }
  } else {
    if (r.ok) return [`expected failure, parsed ${show(r.fields)}`];
    if (e['error'] !== undefined && r.error !== e['error'])
      problems.push(`error: got ${r.error}, expected ${String(e['error'])}`);
  }
  // The unit-file effect: the warning text and that the unit still loads.
  const directive = VALUE_DIRECTIVE[kind];
  const effect =
    typeof e['config_effect'] === 'string' ? /warning (["'])(.*)\1/.exec(e['config_effect'])?.[2] : undefined;
  const message = typeof e['message'] === 'string' ? e['message'].replace(/^<file>:<line>: /, '') : effect;
  if (directive && (message !== undefined || e['unit_load'] !== undefined)) {
    const name = o.unitName ?? 'vector.socket';
    const text = `[Socket]\nListenStream=127.0.0.1:18233\n${directive}=${input}\n`;
    const u = parseUnitText(text, {
      file: name,
      name,
      host: o.host ?? TEST_HOST_FACTS,
      executables: false,
      systemdVersion: kind.includes('<= 256') ? 256 : 257,
    });
    const d = u.diagnostics.find((x) => x.line === 3);
    if (message !== undefined) {
      const want = message.replace(/<v>/g, input.trim());
      const okMsg =
        d !== undefined &&
        (sameParseMessage(d.message, want) || (want.endsWith('...') && d.message.startsWith(want.slice(0, -3))));
      if (!okMsg) problems.push(`unit-file warning: got ${show(d?.message)}, expected ${show(want)}`);
    }
    if (e['unit_load'] !== undefined && String(e['unit_load']).startsWith('succeeds') && u.fatal)
      problems.push('unit-file: expected the unit to load');
  }
  return problems;
}

/** Checks one vector of a file of the given kind. */
export function checkVector(kind: VectorKind, v: Vector, options: VectorOptions = {}): VectorCheck {
  try {
    const problems =
      kind === 'conf-syntax'
        ? checkConfSyntax(v, options)
        : kind === 'socket-addresses'
          ? checkAddress(v, options)
          : checkValue(v, options);
    return { problems };
  } catch (err) {
    return { problems: [`exception: ${(err as Error).stack ?? String(err)}`] };
  }
}

/** A short label for a vector in reports. */
export function vectorLabel(v: Vector, index: number): string {
  const input = typeof v.input === 'string' ? v.input : JSON.stringify(v.input);
  const short = input.length > 60 ? `${input.slice(0, 57)}...` : input;
  return `#${index}${v.kind ? ` ${v.kind}` : ''} ${JSON.stringify(short)}`;
}

/** Checks every vector of a file. */
export function checkVectorFile(
  file: VectorFile,
  options: VectorOptions = {},
): { kind: VectorKind; results: Array<{ label: string; problems: string[] }> } {
  const kind = detectVectorKind(file);
  return {
    kind,
    results: file.vectors.map((v, i) => ({
      label: vectorLabel(v, i),
      problems: checkVector(kind, v, options).problems,
    })),
  };
}
