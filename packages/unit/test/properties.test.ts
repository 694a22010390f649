import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  parseUnitText,
  printServiceUnit,
  printSocketUnit,
  staticInterfaceResolver,
  TEST_HOST_FACTS,
  type ExecCommand,
  type ListenEntry,
  type ServiceUnit,
  type SocketUnit,
} from '../src/index.js';
import { NETLINK_FAMILIES } from '../src/address.js';
import { formatIPv6 } from '../src/inet.js';
import { defaultServiceUnit, defaultSocketUnit } from '../src/parse.js';

const CI = process.env['CI'] === 'true' || process.env['CI'] === '1';
const RUNS = CI ? 10_000 : 1_000;
const ROUNDTRIP_RUNS = CI ? 2_000 : 300;
const interfaces = staticInterfaceResolver({ lo: 1, eth0: 2 });
const options = { host: TEST_HOST_FACTS, interfaces, executables: false } as const;

// ---- the parser never throws, and diagnostics point inside the file -------------------------------

const FRAGMENTS = [
  '[Socket]',
  '[Service]',
  '[Unit]',
  '[Install]',
  '[X-Foo]',
  '[Bogus]',
  '[Socket',
  '[]',
  'ListenStream=',
  'ListenStream=80',
  'ListenStream=[::1]:80%%lo',
  'ListenDatagram=/run/x',
  'ListenFIFO=rel',
  'Accept=yes',
  'Accept=maybe',
  'SocketProtocol=mptcp',
  'Service=x.service',
  'ExecStart=/bin/true',
  'ExecStart=-@/bin/echo "a b" %n ${X} $Y ; /bin/false',
  'ExecStart="unterminated',
  'Environment="A=b c" D=e',
  'Type=oneshot',
  'Backlog=0x10',
  'MaxConnections=0',
  'Symlinks=/a /b',
  'FileDescriptorName=a:b',
  '# comment \\',
  '; comment',
  '\\',
  'key',
  '=value',
  'X-MPTCPFallback=yes',
  '%',
  '%%',
  '%1',
  '\ufeff',
  'TimeoutSec=0',
];
const EOLS = ['\n', '\r\n', '\n\r', '\r', '\0', '\\\n'];

const unitish = fc
  .array(fc.tuple(fc.oneof(fc.constantFrom(...FRAGMENTS), fc.string({ maxLength: 12 })), fc.constantFrom(...EOLS)), {
    maxLength: 25,
  })
  .map((parts) => parts.map(([a, b]) => a + b).join(''));

const anyInput: fc.Arbitrary<string | Uint8Array> = fc.oneof(
  unitish,
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.uint8Array({ maxLength: 300 }),
  unitish.map((s) => new Uint8Array(Buffer.from(s, 'utf8'))),
);

/** Upper bound of physical lines: every terminator byte ends one line, plus a last unterminated one. */
function maxLines(input: string | Uint8Array): number {
  let n = 0;
  for (let i = 0; i < input.length; i++) {
    const c = typeof input === 'string' ? input.charCodeAt(i) : (input[i] as number);
    if (c === 10 || c === 13 || c === 0) n++;
  }
  return n + 1;
}

describe('parser robustness (fast-check)', () => {
  it.each(['prop.socket', 'prop.service', 'prop@inst.service'])(
    'never throws and keeps diagnostics inside the file (%s)',
    (name) => {
      fc.assert(
        fc.property(anyInput, (input) => {
          const r = parseUnitText(input, { ...options, file: name, name });
          const limit = maxLines(input) + 1;
          for (const d of r.diagnostics) {
            if (d.line !== undefined) {
              expect(d.line).toBeGreaterThanOrEqual(1);
              expect(d.line).toBeLessThanOrEqual(limit);
            } else expect(d.unit).toBe(name);
          }
          expect(r.fatal).toBe(r.unit === undefined);
        }),
        { numRuns: RUNS },
      );
    },
  );
});

// ---- print → parse gives the same model -----------------------------------------------------------

const word = fc.stringMatching(/^[a-z][a-z0-9_]{0,11}$/);
const safeText = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9 .,:_/()%-]{0,30}[A-Za-z0-9.)]$/);
// (/var/run/… would be rewritten to /run/… with a notice, as systemd >= 254 does.)
const absPath = fc
  .array(word, { minLength: 1, maxLength: 4 })
  .map((p) => ('/' + p.join('/')).replace(/^\/var\/run(\/|$)/, '/srv/run$1'));
const usec = fc.oneof(
  fc.constant(0),
  fc.integer({ min: 1, max: 10_000 }),
  fc.integer({ min: 1, max: 1_000_000 }).map((n) => n * 1000),
  fc.integer({ min: 0, max: 2 ** 40 }),
);
const usecNonZero = fc.oneof(
  usec.filter((n) => n > 0),
  fc.constant(Infinity),
);
const u32 = fc.integer({ min: 0, max: 4294967295 });
const i32 = fc.integer({ min: -2147483648, max: 2147483647 });
const port = fc.integer({ min: 1, max: 65535 });
const opt = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(a, { nil: undefined });
/** Any Unicode text except NUL (which no unit file can carry) and lone surrogates. */
const argText = fc.string({ unit: 'grapheme', maxLength: 12 }).map((s) => s.replace(/\0/g, ''));

const inet = fc
  .tuple(fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }), port)
  .map(([o, p]) => ({ family: 'inet' as const, address: o.join('.'), port: p }));
const inet6 = fc
  .tuple(
    fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 65535 })), { minLength: 8, maxLength: 8 }),
    port,
    fc.constantFrom(undefined, 'lo', 'eth0'),
  )
  .map(([w, p, scope]) => {
    const a: ListenEntry['address'] = { family: 'inet6', address: formatIPv6(w), port: p };
    if (scope) Object.assign(a, { scopeId: scope === 'lo' ? 1 : 2, ifname: scope });
    return a;
  });
const unix = fc.oneof(
  absPath.map((p) => ({ family: 'unix' as const, path: p, abstract: false })),
  word.map((p) => ({ family: 'unix' as const, path: p, abstract: true })),
);
const vsock = fc
  .tuple(
    fc.integer({ min: 0, max: 4294967294 }),
    fc.integer({ min: 0, max: 4294967294 }),
    fc.constantFrom(undefined, 'stream', 'dgram', 'seqpacket'),
  )
  .map(([cid, p, type]) => {
    const a: ListenEntry['address'] = { family: 'vsock', cid, port: p };
    if (type) Object.assign(a, { type });
    return a;
  });
const netlink = fc.tuple(fc.constantFrom(...Object.keys(NETLINK_FAMILIES)), u32).map(([protocol, group]) => ({
  family: 'netlink' as const,
  protocol,
  protocolNumber: NETLINK_FAMILIES[protocol] as number,
  group,
}));

const entry = (kind: ListenEntry['kind'], address: fc.Arbitrary<ListenEntry['address']>): fc.Arbitrary<ListenEntry> =>
  address.map((a) => ({ kind, value: '', address: a, file: '', line: 0 }));
const acceptingEntry = fc.oneof(entry('stream', fc.oneof(inet, inet6, unix, vsock)), entry('seqpacket', unix));
const anyEntry = fc.oneof(
  acceptingEntry,
  entry('datagram', fc.oneof(inet, inet6, unix)),
  entry(
    'fifo',
    absPath.map((p) => ({ family: 'path' as const, path: p })),
  ),
  entry('netlink', netlink),
);

const execCommand: fc.Arbitrary<ExecCommand> = fc
  .record({
    path: fc.oneof(absPath, fc.constantFrom('/bin/true', '/usr/bin/env')),
    args: fc.array(argText, { maxLength: 4 }),
    argv0: argText,
    ignoreFailure: fc.boolean(),
    argv0Override: fc.boolean(),
    noEnvExpand: fc.boolean(),
    priv: fc.constantFrom('none', '+', '!', '!!'),
  })
  .map((r) => ({
    path: r.path,
    argv: r.argv0Override ? [r.argv0, ...r.args] : [r.path, ...r.args],
    ignoreFailure: r.ignoreFailure,
    noEnvExpand: r.noEnvExpand,
    fullPrivileges: r.priv === '+',
    noUserSwitch: r.priv === '!' || r.priv === '!!',
    ambientMagic: r.priv === '!!',
    argv0Override: r.argv0Override,
    raw: '',
    file: '',
    line: 0,
  }));
const execList = fc.array(execCommand, { maxLength: 2 });

const unitSection = fc.record({
  description: opt(safeText),
  documentation: fc.array(
    word.map((w) => `https://example.org/${w}`),
    { maxLength: 2 },
  ),
  startLimitIntervalUsec: usec,
  startLimitBurst: u32,
  successAction: fc.constantFrom('none', 'exit', 'reboot'),
  extra: fc.record(
    {
      Wants: fc.array(
        word.map((w) => `${w}.target`),
        { minLength: 1, maxLength: 2 },
      ),
      After: fc.array(
        word.map((w) => `${w}.service`),
        { minLength: 1, maxLength: 2 },
      ),
      ConditionPathExists: fc.array(absPath, { minLength: 1, maxLength: 2 }),
    },
    { requiredKeys: [] },
  ),
});
const install = fc.dictionary(
  fc.constantFrom('WantedBy', 'Alias'),
  fc.array(
    word.map((w) => `${w}.target`),
    { minLength: 1, maxLength: 2 },
  ),
  { maxKeys: 2 },
);

const socketUnit: fc.Arbitrary<SocketUnit> = fc
  .record({
    accept: fc.boolean(),
    unit: unitSection,
    listenA: fc.array(acceptingEntry, { minLength: 1, maxLength: 3 }),
    listenB: fc.array(anyEntry, { minLength: 1, maxLength: 3 }),
    socketProtocol: fc.constantFrom(0, 132, 136, 262),
    bindIPv6Only: fc.constantFrom('default' as const, 'both' as const, 'ipv6-only' as const),
    backlog: u32,
    bindToDevice: opt(fc.stringMatching(/^[a-z][a-z0-9]{0,14}$/).filter((n) => n !== 'all' && n !== 'default')),
    socketUser: opt(word),
    socketGroup: opt(word),
    socketMode: fc.integer({ min: 0, max: 0o7777 }),
    directoryMode: fc.integer({ min: 0, max: 0o7777 }),
    bools: fc.array(fc.boolean(), { minLength: 16, maxLength: 16 }),
    maxConnections: fc.integer({ min: 1, max: 4294967295 }),
    maxConnectionsPerSource: u32,
    keepAliveTimeUsec: opt(usec),
    keepAliveIntervalUsec: opt(usec),
    keepAliveProbes: opt(u32),
    priority: opt(i32),
    deferAcceptUsec: usec,
    receiveBuffer: opt(fc.integer({ min: 0, max: 2 ** 40 })),
    sendBuffer: opt(fc.integer({ min: 0, max: 2 ** 40 })),
    ipTos: opt(fc.integer({ min: 0, max: 255 })),
    ipTtl: opt(i32),
    mark: opt(i32),
    tcpCongestion: opt(word),
    pipeSize: opt(fc.integer({ min: 0, max: 2 ** 30 })),
    execs: fc.array(execList, { minLength: 4, maxLength: 4 }),
    timeoutUsec: usecNonZero,
    service: opt(word.map((w) => `${w}.service`)),
    fileDescriptorName: opt(fc.stringMatching(/^[A-Za-z0-9_.@-]{1,20}$/)),
    triggerLimitIntervalUsec: usec,
    triggerLimitBurst: fc.integer({ min: 0, max: 4294967294 }),
    pollLimitIntervalUsec: usec,
    pollLimitBurst: fc.integer({ min: 0, max: 4294967294 }),
    timestamping: fc.constantFrom('off' as const, 'us' as const, 'ns' as const),
    extra: fc.record(
      {
        User: fc.array(word, { minLength: 1, maxLength: 2 }),
        PrivateNetwork: fc.array(fc.constantFrom('yes', 'no', 'on'), { minLength: 1, maxLength: 2 }),
        NetworkNamespacePath: fc.array(absPath, { minLength: 1, maxLength: 2 }),
      },
      { requiredKeys: [] },
    ),
    install,
  })
  .map((r) => {
    const u = defaultSocketUnit('prop.socket', 'prop.socket');
    const b = r.bools;
    Object.assign(u, {
      unit: r.unit,
      listen: r.accept ? r.listenA : r.listenB,
      socketProtocol: r.socketProtocol,
      bindIPv6Only: r.bindIPv6Only,
      backlog: r.backlog,
      socketMode: r.socketMode,
      directoryMode: r.directoryMode,
      accept: r.accept,
      writable: b[0],
      flushPending: b[1],
      maxConnections: r.maxConnections,
      maxConnectionsPerSource: r.maxConnectionsPerSource,
      keepAlive: b[2],
      noDelay: b[3],
      deferAcceptUsec: r.deferAcceptUsec,
      reusePort: b[4],
      freeBind: b[5],
      transparent: b[6],
      broadcast: b[7],
      passCredentials: b[8],
      passSecurity: b[9],
      passPacketInfo: b[10],
      execStartPre: r.execs[0],
      execStartPost: r.execs[1],
      execStopPre: r.execs[2],
      execStopPost: r.execs[3],
      timeoutUsec: r.timeoutUsec,
      removeOnStop: b[11],
      triggerLimitIntervalUsec: r.triggerLimitIntervalUsec,
      triggerLimitBurst: r.triggerLimitBurst,
      pollLimitIntervalUsec: r.pollLimitIntervalUsec,
      pollLimitBurst: r.pollLimitBurst,
      mptcpFallback: b[12],
      timestamping: r.timestamping,
      selinuxContextFromNet: b[13],
      passFileDescriptorsToExec: b[14],
      extra: r.extra,
      install: r.install,
    });
    const optional = {
      bindToDevice: r.bindToDevice,
      socketUser: r.socketUser,
      socketGroup: r.socketGroup,
      keepAliveTimeUsec: r.keepAliveTimeUsec,
      keepAliveIntervalUsec: r.keepAliveIntervalUsec,
      keepAliveProbes: r.keepAliveProbes,
      priority: r.priority,
      receiveBuffer: r.receiveBuffer,
      sendBuffer: r.sendBuffer,
      ipTos: r.ipTos,
      ipTtl: r.ipTtl,
      mark: r.mark,
      tcpCongestion: r.tcpCongestion,
      pipeSize: r.pipeSize,
      fileDescriptorName: r.fileDescriptorName,
      service: r.accept ? undefined : r.service,
    };
    for (const [k, v] of Object.entries(optional)) if (v !== undefined) Object.assign(u, { [k]: v });
    return u;
  });

const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGKILL', 'SIGUSR1', 'SIGQUIT', 'SIGRTMIN+3'];
const stdin = fc.oneof(
  fc.constantFrom('null', 'tty', 'socket', 'data'),
  word.map((w) => `fd:${w}`),
  absPath.map((p) => `file:${p}`),
);
const stdout = fc.oneof(
  fc.constantFrom('inherit', 'null', 'journal', 'kmsg', 'journal+console', 'socket'),
  absPath.map((p) => `append:${p}`),
);
const envName = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,10}$/);
const envValue = fc.string({ unit: 'grapheme', maxLength: 16 }).map((s) => s.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, ''));

const serviceUnit: fc.Arbitrary<ServiceUnit> = fc
  .record({
    unit: unitSection,
    type: fc.constantFrom(
      'simple',
      'exec',
      'forking',
      'oneshot',
      'dbus',
      'notify',
      'notify-reload',
      'idle',
    ) as fc.Arbitrary<ServiceUnit['type']>,
    execStart: fc.array(execCommand, { minLength: 1, maxLength: 3 }),
    execs: fc.array(execList, { minLength: 6, maxLength: 6 }),
    environment: fc.uniqueArray(fc.tuple(envName, envValue), { selector: ([k]) => k, maxLength: 4 }),
    environmentFiles: fc.array(fc.record({ path: absPath, optional: fc.boolean() }), { maxLength: 2 }),
    workingDirectory: opt(fc.record({ path: fc.oneof(fc.constant('~'), absPath), optional: fc.boolean() })),
    user: opt(word),
    group: opt(word),
    supplementaryGroups: fc.array(word, { maxLength: 3 }),
    restart: fc.constantFrom(
      'no',
      'on-success',
      'on-failure',
      'on-abnormal',
      'on-watchdog',
      'on-abort',
      'always',
    ) as fc.Arbitrary<ServiceUnit['restart']>,
    restartUsec: usec,
    standardInput: stdin,
    standardOutput: stdout,
    standardError: stdout,
    killSignal: fc.constantFrom(...SIGNALS),
    finalKillSignal: fc.constantFrom(...SIGNALS),
    sendSIGKILL: fc.boolean(),
    killMode: fc.constantFrom('control-group', 'mixed', 'process', 'none') as fc.Arbitrary<ServiceUnit['killMode']>,
    timeoutStopUsec: usecNonZero,
    timeoutStartUsec: usecNonZero,
    nonBlocking: fc.boolean(),
    sockets: fc.uniqueArray(
      word.map((w) => `${w}.socket`),
      { maxLength: 3 },
    ),
    remainAfterExit: fc.boolean(),
    busName: opt(word.map((w) => `org.example.${w}`)),
    extra: fc.record(
      {
        LimitNOFILE: fc.array(fc.constantFrom('1024', 'infinity', '1024:4096', '0x100'), {
          minLength: 1,
          maxLength: 2,
        }),
        PrivateTmp: fc.array(fc.constantFrom('yes', 'false'), { minLength: 1, maxLength: 2 }),
        ProtectSystem: fc.array(fc.constantFrom('yes', 'no', 'full', 'strict'), { minLength: 1, maxLength: 2 }),
        // A key kept verbatim without a check: any word survives the round trip.
        SyslogFacility: fc.array(word, { minLength: 1, maxLength: 2 }),
      },
      { requiredKeys: [] },
    ),
    install,
  })
  .map((r) => {
    const u = defaultServiceUnit('prop.service', 'prop.service');
    const oneshot = r.type === 'oneshot';
    Object.assign(u, {
      unit: r.unit,
      type: r.type,
      execStart: oneshot ? r.execStart : r.execStart.slice(0, 1),
      execCondition: r.execs[0],
      execStartPre: r.execs[1],
      execStartPost: r.execs[2],
      execReload: r.execs[3],
      execStop: r.execs[4],
      execStopPost: r.execs[5],
      environment: r.environment,
      environmentFiles: r.environmentFiles,
      supplementaryGroups: r.supplementaryGroups,
      restart: oneshot && (r.restart === 'always' || r.restart === 'on-success') ? 'no' : r.restart,
      restartUsec: r.restartUsec,
      standardInput: r.standardInput,
      standardOutput: r.standardOutput,
      standardError: r.standardError,
      killSignal: r.killSignal,
      finalKillSignal: r.finalKillSignal,
      sendSIGKILL: r.sendSIGKILL,
      killMode: r.killMode,
      timeoutStopUsec: r.timeoutStopUsec,
      timeoutStartUsec: r.timeoutStartUsec,
      nonBlocking: r.nonBlocking,
      sockets: r.sockets,
      remainAfterExit: r.remainAfterExit,
      extra: r.extra,
      install: r.install,
    });
    if (r.workingDirectory) u.workingDirectory = r.workingDirectory;
    if (r.user !== undefined) u.user = r.user;
    if (r.group !== undefined) u.group = r.group;
    if (r.busName !== undefined || r.type === 'dbus') u.busName = r.busName ?? 'org.example.svc';
    return u;
  });

/** The model without bookkeeping (file names, line numbers, raw text, expanded Listen text). */
function normalize(u: unknown): unknown {
  return JSON.parse(
    JSON.stringify(u, (k, v: unknown) => {
      if (k === 'file' || k === 'line' || k === 'raw' || k === 'value' || k === 'dropIns' || k === 'name')
        return undefined;
      // Condition*=/Assert*= are printed from `extra`; their parsed form (conditions/asserts) is derived from it.
      if (k === 'conditions' || k === 'asserts') return undefined;
      return v === Infinity ? 'Infinity' : v;
    }),
  );
}

describe('print → parse round trip (fast-check)', () => {
  it('SocketUnit', () => {
    fc.assert(
      fc.property(socketUnit, (u) => {
        const text = printSocketUnit(u);
        const r = parseUnitText(text, { ...options, file: 'prop.socket', liteWarnings: false });
        expect(
          r.diagnostics.map((d) => `${d.line ?? ''}: ${d.message}`),
          text,
        ).toEqual([]);
        expect(normalize(r.unit)).toEqual(normalize(u));
      }),
      { numRuns: ROUNDTRIP_RUNS },
    );
  });
  it('ServiceUnit', () => {
    fc.assert(
      fc.property(serviceUnit, (u) => {
        const text = printServiceUnit(u);
        const r = parseUnitText(text, { ...options, file: 'prop.service' });
        const unexpected = r.diagnostics.filter((d) => !d.message.startsWith('Unit uses KillMode=none.'));
        expect(
          unexpected.map((d) => `${d.line ?? ''}: ${d.message}`),
          text,
        ).toEqual([]);
        expect(normalize(r.unit)).toEqual(normalize(u));
      }),
      { numRuns: ROUNDTRIP_RUNS },
    );
  });
});
