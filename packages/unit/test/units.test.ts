import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  expandExecCommand,
  expandSpecifiers,
  formatDiagnostic,
  loadServiceInstance,
  loadUnitDirectories,
  loadUnitFile,
  parseEnvironmentFile,
  parseUnitText,
  serviceNameFor,
  staticInterfaceResolver,
  TEST_HOST_FACTS,
  verify,
  type ServiceUnit,
  type SocketUnit,
} from '../src/index.js';

const opts = { host: TEST_HOST_FACTS, interfaces: staticInterfaceResolver({ lo: 1 }), executables: false } as const;
const sock = (text: string, name = 'test.socket') => parseUnitText(text, { ...opts, file: name });
const svc = (text: string, name = 'test.service') => parseUnitText(text, { ...opts, file: name });
const msgs = (r: { diagnostics: Parameters<typeof formatDiagnostic>[0][] }) => r.diagnostics.map(formatDiagnostic);

const tmp = mkdtempSync(join(tmpdir(), 'mptcp-unit-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
function files(tree: Record<string, string | null>): string {
  const root = mkdtempSync(join(tmp, 't-'));
  for (const [p, text] of Object.entries(tree)) {
    const full = join(root, p);
    mkdirSync(dirname(full), { recursive: true });
    if (text === null) symlinkSync('/dev/null', full);
    else writeFileSync(full, text);
  }
  return root;
}

describe('specifiers', () => {
  const ctx = { name: 'web-api@x-y\\x2dz.socket', file: '/etc/systemd/system/web-api@.socket', host: TEST_HOST_FACTS };
  it.each([
    ['%n', 'web-api@x-y\\x2dz.socket'],
    ['%N', 'web-api@x-y\\x2dz'],
    ['%p', 'web-api'],
    ['%P', 'web/api'],
    ['%i', 'x-y\\x2dz'],
    ['%I', 'x/y-z'],
    ['%f', '/x/y-z'],
    ['%j', 'api'],
    ['%H', 'testhost.example.org'],
    ['%l', 'testhost'],
    ['%m', TEST_HOST_FACTS.machineId],
    ['%b', TEST_HOST_FACTS.bootId],
    ['%u %U %g %G %h %s', 'root 0 root 0 /root /bin/sh'],
    ['%t %T %V %S %C %L %E', '/run /tmp /var/tmp /var/lib /var/cache /var/log /etc'],
    ['%y', '/etc/systemd/system/web-api@.socket'],
    ['%Y', '/etc/systemd/system'],
    ['100%% %! %', '100% %! %'],
  ])('%s', (input, want) => {
    expect(expandSpecifiers(input, ctx)).toEqual({ ok: true, value: want });
  });
  it('unknown letter or digit is EBADSLT', () => {
    expect(expandSpecifiers('%1', ctx)).toEqual({ ok: false, error: 'EBADSLT' });
    expect(expandSpecifiers('%Q', ctx)).toEqual({ ok: false, error: 'EBADSLT' });
    expect(expandSpecifiers('%t', ctx, 'name')).toEqual({ ok: false, error: 'EBADSLT' });
  });
  it('an unknown specifier makes systemd ignore the assignment', () => {
    const r = sock('[Socket]\nListenStream=80\nListenStream=[fe80::1]:80%1\nFileDescriptorName=%Z\n');
    expect(msgs(r)).toEqual([
      "test.socket:3: Failed to resolve unit specifiers in '[fe80::1]:80%1', ignoring: Invalid slot",
      "test.socket:4: Failed to resolve unit specifiers in '%Z', ignoring: Invalid slot",
    ]);
    expect((r.unit as SocketUnit).listen).toHaveLength(1);
  });
});

describe('[Socket]', () => {
  it('interprets the essential directives', () => {
    const r = sock(
      [
        '[Unit]',
        'Description=Echo on %H',
        'StartLimitBurst=3',
        '[Socket]',
        'ListenStream=0x50',
        'ListenStream=[::1]:8080%%lo',
        'ListenDatagram=127.0.0.1:53',
        'ListenSequentialPacket=@seq',
        'ListenFIFO=/run/%N.fifo',
        'SocketProtocol=MPTCP',
        'BindIPv6Only=yes',
        'Backlog=010',
        'SocketMode=0600',
        'DirectoryMode=700',
        'ReceiveBuffer=4M 11.5K',
        'IPTOS=low-delay',
        'KeepAliveTimeSec=1min 30s',
        'TimeoutSec=0',
        'FileDescriptorName=echo',
        'X-MPTCPFallback=yes',
        'X-Other=ignored silently',
        '',
      ].join('\n'),
    );
    expect(msgs(r)).toEqual([]);
    const u = r.unit as SocketUnit;
    expect(u.unit.description).toBe('Echo on testhost.example.org');
    expect(u.unit.startLimitBurst).toBe(3);
    expect(u.listen.map((l) => [l.kind, l.value, l.line])).toEqual([
      ['stream', '0x50', 5],
      ['stream', '[::1]:8080%lo', 6],
      ['datagram', '127.0.0.1:53', 7],
      ['seqpacket', '@seq', 8],
      ['fifo', '/run/test.fifo', 9],
    ]);
    expect(u.listen[0]?.address).toEqual({ family: 'inet6', address: '::', port: 80 });
    expect(u.listen[1]?.address).toEqual({ family: 'inet6', address: '::1', port: 8080, scopeId: 1, ifname: 'lo' });
    expect(u.listen[3]?.address).toEqual({ family: 'unix', path: 'seq', abstract: true });
    expect(u).toMatchObject({
      socketProtocol: 262,
      bindIPv6Only: 'ipv6-only',
      backlog: 8,
      socketMode: 0o600,
      directoryMode: 0o700,
      receiveBuffer: 4206080,
      ipTos: 16,
      keepAliveTimeUsec: 90_000_000,
      timeoutUsec: Infinity,
      fileDescriptorName: 'echo',
      mptcpFallback: true,
      triggerLimitBurst: 20,
      pollLimitBurst: 15,
    });
  });

  it('empty ListenStream= clears every Listen entry; SocketProtocol= is not a reset', () => {
    const r = sock(
      '[Socket]\nListenStream=1\nListenFIFO=/run/f\nListenStream=\nListenStream=2\nSocketProtocol=sctp\nSocketProtocol=\n',
    );
    const u = r.unit as SocketUnit;
    expect(u.listen.map((l) => l.value)).toEqual(['2']);
    expect(u.socketProtocol).toBe(132);
    expect(msgs(r)).toEqual(['test.socket:7: Failed to parse SocketProtocol=, ignoring: Protocol not supported']);
  });

  it('systemd 256 rules refuse mptcp', () => {
    const r = parseUnitText('[Socket]\nListenStream=1\nSocketProtocol=mptcp\n', {
      ...opts,
      file: 'a.socket',
      systemdVersion: 256,
    });
    expect(msgs(r)).toEqual(['a.socket:3: Failed to parse SocketProtocol=mptcp, ignoring: Protocol not supported']);
    expect((r.unit as SocketUnit).socketProtocol).toBe(0);
  });

  it('Accept=yes defaults and instance naming', () => {
    const u = sock('[Socket]\nListenStream=1\nAccept=yes\n', 'echo.socket').unit as SocketUnit;
    expect(u.triggerLimitBurst).toBe(200);
    expect(u.pollLimitBurst).toBe(150);
    expect(serviceNameFor(u)).toBe('echo@internal.service');
    expect(serviceNameFor(u, '0-127.0.0.1:1-127.0.0.1:5000')).toBe('echo@0-127.0.0.1:1-127.0.0.1:5000.service');
    const v = sock('[Socket]\nListenStream=1\nService=other.service\n', 'echo.socket').unit as SocketUnit;
    expect(serviceNameFor(v)).toBe('other.service');
    expect(serviceNameFor(sock('[Socket]\nListenStream=1\n', 'a@b.socket').unit as SocketUnit)).toBe('a@b.service');
  });

  it('warns about what mptcpd-lite does not honour, and can be told not to', () => {
    const text = '[Socket]\nListenStream=1\nListenNetlink=route 1\nPassSecurity=yes\nWritable=no\n';
    expect(msgs(sock(text))).toEqual([
      'test.socket:3: ListenNetlink= is not supported by mptcpd-lite, ignoring',
      'test.socket:4: PassSecurity= is not supported by mptcpd-lite, ignoring',
    ]);
    expect(msgs(parseUnitText(text, { ...opts, file: 'test.socket', liteWarnings: false }))).toEqual([]);
  });

  it.each([
    [
      '[Socket]\nBacklog=1\n',
      'Unit has no Listen setting (ListenStream=, ListenDatagram=, ListenFIFO=, ...). Refusing.',
    ],
    [
      '[Socket]\nListenDatagram=1\nAccept=yes\n',
      'Unit configured for accepting sockets, but sockets are non-accepting. Refusing.',
    ],
    ['[Socket]\nListenStream=1\nAccept=yes\nMaxConnections=0\n', 'MaxConnection= setting too small. Refusing.'],
    [
      '[Socket]\nListenStream=1\nAccept=yes\nService=x.service\n',
      'Explicit service configuration for accepting socket units not supported. Refusing.',
    ],
    [
      '[Socket]\nListenStream=1\nSymlinks=/run/l\n',
      'Unit has symlinks set but none or more than one node in the file system. Refusing.',
    ],
  ])('load-time check %#', (text, message) => {
    const r = sock(text);
    expect(r.fatal).toBe(true);
    expect(r.unit).toBeUndefined();
    expect(msgs(r)).toEqual([`test.socket: ${message}`]);
  });
});

describe('[Service]', () => {
  it('parses commands, environment and the lifecycle settings', () => {
    const r = svc(
      [
        '[Unit]',
        'StartLimitIntervalSec=20s',
        '[Service]',
        'Type=notify',
        'ExecStartPre=-/bin/mkdir -p /run/%p',
        'ExecStart=@/usr/bin/server server-%i "two words" \'single\' \\x41\\t ${PORT} $OPTS \\; ; /x/y',
        'ExecStart=',
        'ExecStart=:+/usr/bin/server --name=%n $$HOME',
        'Environment="A=b c" D=e\\x20f',
        'Environment=D=override',
        'EnvironmentFile=-/etc/default/%p',
        'WorkingDirectory=-~',
        'User=daemon',
        'Group=65534',
        'Restart=on-failure',
        'RestartSec=2',
        'StandardInput=socket',
        'KillSignal=INT',
        'KillMode=mixed',
        'TimeoutStopSec=0',
        'TimeoutStartSec=30s',
        'NonBlocking=yes',
        'Sockets=a.socket b.socket a.socket',
        '',
      ].join('\n'),
    );
    expect(msgs(r)).toEqual([]);
    const u = r.unit as ServiceUnit;
    expect(u.unit.startLimitIntervalUsec).toBe(20_000_000);
    expect(u.execStartPre[0]).toMatchObject({
      path: '/bin/mkdir',
      argv: ['/bin/mkdir', '-p', '/run/test'],
      ignoreFailure: true,
    });
    expect(u.execStart).toHaveLength(1);
    expect(u.execStart[0]).toMatchObject({
      path: '/usr/bin/server',
      argv: ['/usr/bin/server', '--name=test.service', '$$HOME'],
      noEnvExpand: true,
      fullPrivileges: true,
      line: 8,
    });
    expect(u.environment).toEqual([
      ['A', 'b c'],
      ['D', 'override'],
    ]);
    expect(u.environmentFiles).toEqual([{ path: '/etc/default/test', optional: true }]);
    expect(u.workingDirectory).toEqual({ path: '~', optional: true });
    expect(u).toMatchObject({
      type: 'notify',
      user: 'daemon',
      group: '65534',
      restart: 'on-failure',
      restartUsec: 2_000_000,
      standardInput: 'socket',
      standardOutput: 'inherit',
      killSignal: 'SIGINT',
      killMode: 'mixed',
      timeoutStopUsec: Infinity,
      timeoutStartUsec: 30_000_000,
      nonBlocking: true,
      sockets: ['a.socket', 'b.socket'],
    });
  });

  it('splits `;`, keeps `\\;`, honours @ and the quoting rules', () => {
    const u = svc(
      '[Service]\nType=oneshot\nExecStart=@/usr/bin/server server-%i "two words" \'single\' \\x41\\t ${PORT} $OPTS \\; ; /x/y\n',
      'a@b.service',
    ).unit as ServiceUnit;
    expect(u.execStart.map((c) => [c.path, c.argv, c.argv0Override])).toEqual([
      ['/usr/bin/server', ['server-b', 'two words', 'single', 'A\t', '${PORT}', '$OPTS', ';'], true],
      ['/x/y', ['/x/y'], false],
    ]);
  });

  it('expandExecCommand() does systemd’s exec-time $VAR expansion', () => {
    const env = { PORT: '8080', OPTS: '-v  "a b"  -x', EMPTY: '' };
    const cmd = {
      argv: [
        '/bin/srv',
        '--port=${PORT}',
        '$OPTS',
        '$MISSING',
        '${MISSING}x',
        '$$PORT',
        '$EMPTY',
        '${PORT:-1}',
        'a$PORT',
      ],
      noEnvExpand: false,
    };
    expect(expandExecCommand(cmd, env)).toEqual([
      '/bin/srv',
      '--port=8080',
      '-v',
      'a b',
      '-x',
      'x',
      '$PORT',
      '${PORT:-1}',
      'a$PORT',
    ]);
    expect(expandExecCommand({ ...cmd, noEnvExpand: true }, env)).toEqual(cmd.argv);
    expect(expandExecCommand(cmd, new Map(Object.entries(env)))[1]).toBe('--port=8080');
  });

  it('Exec*= errors are fatal unless the command has `-`', () => {
    expect(msgs(svc('[Service]\nExecStart=-/bin/true %Z\nExecStart=/bin/true\n'))).toEqual([
      "test.service:2: Failed to resolve unit specifiers in '%Z', ignoring: Invalid slot",
    ]);
    const r = svc('[Service]\nExecStart=/bin/true %Z\nType=bogus\n');
    expect(r.fatal).toBe(true);
    expect(msgs(r)).toEqual([
      "test.service:2: Failed to resolve unit specifiers in '%Z': Invalid slot",
      'test.service: Unit configuration has fatal error, unit will not be started.',
    ]);
  });

  it('defaults: Type=oneshot without ExecStart= gets an infinite start timeout', () => {
    const u = svc('[Service]\nExecStop=/bin/true\nRemainAfterExit=yes\n').unit as ServiceUnit;
    expect(u.type).toBe('oneshot');
    expect(u.timeoutStartUsec).toBe(Infinity);
  });

  it('checks executables through an injectable function', () => {
    const r = parseUnitText('[Service]\nExecStart=server --x\nExecStartPre=-/missing\n', {
      ...opts,
      file: 's.service',
      executables: (p) => (p === '/usr/bin/server' ? undefined : 'ENOENT'),
    });
    expect((r.unit as ServiceUnit).execStart[0]?.path).toBe('/usr/bin/server');
    expect(msgs(r)).toEqual([]);
    const bad = parseUnitText('[Service]\nExecStart=/opt/x\n', {
      ...opts,
      file: 's.service',
      executables: () => 'EACCES',
    });
    expect(msgs(bad)).toEqual(['s.service: Command /opt/x is not executable: Permission denied']);
  });
});

describe('parseEnvironmentFile()', () => {
  it('reads shell-like assignments', () => {
    const text = [
      '# comment',
      '; other comment',
      'A=plain value   ',
      'B="double \\"quoted\\" \\$HOME \\n"',
      "C='single $NOT \\n'",
      'D=with\\',
      'continuation',
      '  E  =  spaced',
      'export F=1',
      'G',
      'H=',
      'A=again',
      '',
    ].join('\n');
    const r = parseEnvironmentFile(text);
    expect(r.env).toEqual([
      ['A', 'again'],
      ['B', 'double "quoted" $HOME \\n'],
      ['C', 'single $NOT \\n'],
      ['D', 'withcontinuation'],
      ['E', 'spaced'],
      ['H', ''],
    ]);
    expect(r.warnings).toEqual([{ line: 9, message: "Invalid environment variable name 'export F', ignoring." }]);
  });
});

describe('drop-ins and directories', () => {
  it('applies drop-ins like systemd (order, precedence, dashed prefixes, top-level, masking)', () => {
    // The same tree was checked with SYSTEMD_UNIT_PATH=etc:usr systemd-analyze verify (252).
    const root = files({
      'usr/a-b-c.socket': '[Socket]\nListenStream=127.0.0.1:18400\nBacklog=1\n',
      'usr/a-b-c.socket.d/10-a.conf': '[Socket]\nBacklog=x10\n',
      'etc/a-b-c.socket.d/10-a.conf': '[Socket]\nBacklog=x20\n',
      'usr/a-.socket.d/05-b.conf': '[Socket]\nBacklog=x05\n',
      'usr/a-b-.socket.d/30-c.conf': '[Socket]\nBacklog=x30\n',
      'usr/a-b-.socket.d/05-b.conf': '[Socket]\nBacklog=x05dup\n',
      'usr/socket.d/01-top.conf': '[Socket]\nBacklog=x01\n',
      'usr/socket.d/99-top.conf': '[Socket]\nBacklog=x99\n',
      'etc/socket.d/99-top.conf': null,
      'usr/a-b-c.socket.d/40-nosec.conf': 'Backlog=x40\n',
      'usr/a-b-c.socket.d/50-real.conf': '[Socket]\nBacklog=7\n',
      'usr/a-b-c.socket.d/ignored.txt': '[Socket]\nBacklog=x\n',
    });
    const r = loadUnitFile(join(root, 'usr/a-b-c.socket'), {
      ...opts,
      searchPaths: [join(root, 'etc'), join(root, 'usr')],
    });
    expect(msgs(r).map((m) => m.replace(root + '/', ''))).toEqual([
      'usr/socket.d/01-top.conf:2: Failed to parse Backlog=x01, ignoring: Invalid argument',
      'usr/a-b-.socket.d/05-b.conf:2: Failed to parse Backlog=x05dup, ignoring: Invalid argument',
      'etc/a-b-c.socket.d/10-a.conf:2: Failed to parse Backlog=x20, ignoring: Invalid argument',
      'usr/a-b-.socket.d/30-c.conf:2: Failed to parse Backlog=x30, ignoring: Invalid argument',
      'usr/a-b-c.socket.d/40-nosec.conf:1: Assignment outside of section. Ignoring.',
    ]);
    expect((r.unit as SocketUnit).backlog).toBe(7);
    expect((r.unit as SocketUnit).dropIns).toHaveLength(6);
  });

  it('loads directories: first directory wins, bad units are skipped, templates listed, masks honoured', () => {
    const root = files({
      'etc/web.socket': '[Socket]\nListenStream=8080\n',
      'usr/web.socket': '[Socket]\nListenStream=9090\n',
      'usr/web.service': '[Service]\nExecStart=/bin/true\n',
      'usr/bad.socket': '[Socket\n',
      'usr/echo.socket': '[Socket]\nListenStream=7\nAccept=yes\n',
      'usr/echo@.service': '[Service]\nExecStart=/bin/echo %i %I\nStandardInput=socket\n',
      'etc/gone.service': null,
      'usr/gone.service': '[Service]\nExecStart=/bin/true\n',
      'usr/empty.service': '',
    });
    symlinkSync(join(root, 'usr/web.service'), join(root, 'etc/alias.service'));
    const r = loadUnitDirectories([join(root, 'etc'), join(root, 'usr')], opts);
    expect(r.sockets.map((s) => [s.name, s.listen[0]?.value])).toEqual([
      ['web.socket', '8080'],
      ['echo.socket', '7'],
    ]);
    expect(r.services.map((s) => s.name)).toEqual(['web.service']);
    expect([...r.templates.keys()]).toEqual(['echo@.service']);
    expect(r.failed.map((f) => [f.name, f.diagnostics.map((d) => d.message)])).toEqual([
      ['bad.socket', ["Invalid section header '[Socket'"]],
    ]);
    expect(r.masked.sort()).toEqual(['empty.service', 'gone.service']);
    expect([...r.aliases]).toEqual([['alias.service', 'web.service']]);
    expect(r.units).toHaveLength(3);

    const inst = loadServiceInstance('echo@.service', '0-127.0.0.1:7-127.0.0.1:5000', {
      ...opts,
      searchPaths: [join(root, 'etc'), join(root, 'usr')],
    });
    const u = inst.unit as ServiceUnit;
    expect(u.name).toBe('echo@0-127.0.0.1:7-127.0.0.1:5000.service');
    expect(u.execStart[0]?.argv).toEqual(['/bin/echo', '0-127.0.0.1:7-127.0.0.1:5000', '0/127.0.0.1:7/127.0.0.1:5000']);
    expect(
      loadServiceInstance('echo@.service', 'x', { ...opts, templateFile: r.templates.get('echo@.service') as string })
        .unit?.name,
    ).toBe('echo@x.service');
  });

  it('verify() reports a missing triggered service (Accept=yes probes the template)', () => {
    const root = files({
      'nosvc.socket': '[Socket]\nListenStream=1\n',
      'acc.socket': '[Socket]\nListenStream=1\nAccept=yes\n',
      'ok.socket': '[Socket]\nListenStream=1\nAccept=yes\n',
      'ok@.service': '[Service]\nExecStart=/bin/true\n',
    });
    const r = verify(
      ['nosvc.socket', 'acc.socket', 'ok.socket'].map((f) => join(root, f)),
      opts,
    );
    expect(r.failed).toBe(true);
    expect(r.diagnostics.map(formatDiagnostic)).toEqual([
      'nosvc.socket: service nosvc.service not loaded, socket cannot be started.',
      'acc.socket: service acc@internal.service not loaded, socket cannot be started.',
    ]);
  });
});

describe('syntax corner cases', () => {
  it('accepts a Buffer with BOM, CRLF and NUL terminators', () => {
    const buf = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from('[Socket]\r\nListenStream=1\0Backlog=3\n\rAccept=no'),
    ]);
    const r = parseUnitText(buf, { ...opts, file: 'b.socket' });
    expect(msgs(r)).toEqual([]);
    expect((r.unit as SocketUnit).backlog).toBe(3);
  });
  it('reports the last physical line of a continuation, EOF continuation at lines+1', () => {
    expect(msgs(sock('[Socket]\nListenStream=1\nBacklog=x\\\n# c\\\ny\\\n'))).toEqual([
      'test.socket:6: Failed to parse Backlog=x y, ignoring: Invalid argument',
    ]);
  });
  it('an assignment outside a section is warned once, not inside ignored sections', () => {
    expect(msgs(sock('a=b\n[X-Mine]\nc=d\n[Nope]\ne=f\n[Socket]\nListenStream=1\n'))).toEqual([
      'test.socket:1: Assignment outside of section. Ignoring.',
      "test.socket:4: Unknown section 'Nope'. Ignoring.",
    ]);
  });
});

describe('systemd >= 254 behaviour', () => {
  it('rewrites /var/run/ socket and FIFO paths to /run/ with a notice', () => {
    const r = sock(
      '[Socket]\nListenStream=/var/run/foo.sock\nListenFIFO=/var/run//x.fifo\nListenStream=@/var/run/abs\n',
    );
    expect(msgs(r)).toEqual([
      'test.socket:2: ListenStream= references a path below legacy directory /var/run/, updating /var/run/foo.sock → /run/foo.sock; please update the unit file accordingly.',
      'test.socket:3: ListenFIFO= references a path below legacy directory /var/run/, updating /var/run/x.fifo → /run/x.fifo; please update the unit file accordingly.',
    ]);
    expect((r.unit as SocketUnit).listen.map((l) => l.value)).toEqual([
      '/run/foo.sock',
      '/run/x.fifo',
      '@/var/run/abs',
    ]);
    expect((r.unit as SocketUnit).listen[0]?.address).toEqual({
      family: 'unix',
      path: '/run/foo.sock',
      abstract: false,
    });
  });
});
