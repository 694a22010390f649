/**
 * Test and benchmark helpers (`@mptcp/unit/testing`): a deterministic generator of realistic unit
 * files, used by the parse benchmark and by property tests.
 */

/** A generated unit: its name and text. */
export interface GeneratedUnit {
  name: string;
  text: string;
}

/** mulberry32: small, fast, deterministic. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One element of `xs`, chosen by the generator `r`. */
export const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;

const ADDRESSES = [
  (r: () => number) => String(1024 + Math.floor(r() * 60000)),
  (r: () => number) => `127.0.0.1:${1024 + Math.floor(r() * 60000)}`,
  (r: () => number) => `0.0.0.0:${1 + Math.floor(r() * 65535)}`,
  (r: () => number) => `[::1]:${1024 + Math.floor(r() * 60000)}`,
  (r: () => number) => `[2001:db8::${Math.floor(r() * 65535).toString(16)}]:${1 + Math.floor(r() * 65535)}`,
  (r: () => number) => `[fe80::1]:${1024 + Math.floor(r() * 60000)}%%lo`,
  () => '/run/%N.sock',
  (r: () => number) => `@abstract-${Math.floor(r() * 1e6)}`,
  (r: () => number) => `vsock:2:${Math.floor(r() * 10000)}`,
];

export const SOCKET_OPTIONS = [
  'SocketProtocol=mptcp',
  'SocketProtocol=sctp',
  'BindIPv6Only=both',
  'Backlog=0x80',
  'NoDelay=yes',
  'KeepAlive=true',
  'KeepAliveTimeSec=1min 30s',
  'KeepAliveIntervalSec=75',
  'KeepAliveProbes=9',
  'ReceiveBuffer=4M 11.5K',
  'SendBuffer=256K',
  'IPTOS=low-delay',
  'Priority=6',
  'Mark=0x42',
  'ReusePort=yes',
  'FreeBind=on',
  'DeferAcceptSec=5s',
  'TriggerLimitIntervalSec=5s',
  'TriggerLimitBurst=50',
  'FileDescriptorName=web',
  'SocketMode=0660',
  'DirectoryMode=0750',
  'TCPCongestion=cubic',
  'X-MPTCPFallback=yes',
  'RemoveOnStop=yes',
  'FooBar=unknown key',
  'Backlog=  7x',
];

export const SERVICE_OPTIONS = [
  'Environment="GREETING=hello world" PORT=8080',
  'Environment=MODE=%i',
  'EnvironmentFile=-/etc/default/%p',
  'WorkingDirectory=/var/lib/%p',
  'User=nobody',
  'Group=nogroup',
  'Restart=on-failure',
  'RestartSec=250ms',
  'StandardError=journal',
  'KillSignal=SIGINT',
  'KillMode=mixed',
  'TimeoutStopSec=20s',
  'TimeoutStartSec=infinity',
  'NonBlocking=yes',
  'LimitNOFILE=65536',
  'PrivateTmp=yes',
  'ProtectSystem=strict',
];

/**
 * Generates `n` unit files (about one service per two sockets), deterministic for a given seed.
 * They use comments, continuation lines, specifiers, quoting and a few deliberate mistakes
 * (unknown keys, bad values), like real configuration does.
 */
export function generateUnitCorpus(n: number, seed = 1): GeneratedUnit[] {
  const r = prng(seed);
  const out: GeneratedUnit[] = [];
  for (let i = 0; i < n; i++) {
    const base = `gen${i}-${pick(r, ['web', 'echo', 'api', 'db', 'proxy'])}`;
    const lines: string[] = [
      '# generated unit',
      '[Unit]',
      `Description=Generated %n number ${i} \\`,
      '  on %H',
      'Documentation=man:systemd.socket(5) https://example.org/doc',
    ];
    if (r() < 0.3) lines.push('StartLimitIntervalSec=30s', 'StartLimitBurst=10');
    if (i % 3 !== 2) {
      const accept = r() < 0.25;
      lines.push('', '[Socket]');
      const nl = 1 + Math.floor(r() * 3);
      for (let k = 0; k < nl; k++) {
        if (r() < 0.1) lines.push(`ListenSequentialPacket=@seq-${i}-${k}`);
        else lines.push(`ListenStream=${pick(r, ADDRESSES)(r)}`);
      }
      if (!accept && r() < 0.3) lines.push(`ListenDatagram=${pick(r, ADDRESSES)(r)}`);
      if (accept) lines.push('Accept=yes', `MaxConnections=${1 + Math.floor(r() * 200)}`);
      const no = Math.floor(r() * 8);
      for (let k = 0; k < no; k++) lines.push(pick(r, SOCKET_OPTIONS));
      lines.push('; a comment', '', '[Install]', 'WantedBy=sockets.target');
      out.push({ name: `${base}.socket`, text: lines.join('\n') + '\n' });
    } else {
      lines.push('', '[Service]', `Type=${pick(r, ['simple', 'exec', 'notify', 'oneshot'])}`);
      lines.push(
        `ExecStart=/usr/bin/${pick(r, ['env', 'true', 'cat', 'sleep'])} --name=%n "quoted arg" \${PORT} $GREETING \\`,
        '    --flag \\x41',
      );
      if (r() < 0.4) lines.push('ExecStartPre=-/bin/mkdir -p /run/%p');
      const no = Math.floor(r() * 8);
      for (let k = 0; k < no; k++) lines.push(pick(r, SERVICE_OPTIONS));
      out.push({ name: `${base}.service`, text: lines.join('\n') + '\n' });
    }
  }
  return out;
}

export const R_VALUES = [
  '',
  'yes',
  'no',
  'maybe',
  '0',
  '1',
  '-1',
  '0x10',
  '010',
  '08',
  '0b101',
  '5s',
  '1min 30s',
  'infinity',
  '3.5K',
  '1k',
  '4M 11.5K',
  ' 7 ',
  '"5"',
  '%n',
  '%Z',
  '%%',
  '%i',
  '%p',
  '/run/x.sock',
  'rel',
  '@abs',
  '127.0.0.1:80',
  '[::1]:8080',
  '8080',
  '65536',
  '0644',
  '0o644',
  'mptcp',
  'MPTCP',
  'sctp',
  'udplite',
  'tcp',
  'udp',
  'bogus',
  'both',
  'ipv6-only',
  'default',
  'low-delay',
  'foo.service',
  'foo@.service',
  'foo@bar.service',
  'foo.target',
  'a:b',
  'nobody',
  'daemon',
  '2147483648',
  '4294967295',
  '65535',
  'SIGTERM',
  'TERM',
  'mixed',
  'none',
  'on-failure',
  'always',
  'simple',
  'oneshot',
  'notify',
  'journal',
  'file:/tmp/x',
  'fd:foo',
  'A=b "C=d e"',
  '/bin/true',
  '-/bin/false x',
  '/bin/echo "a b"',
  '"unterminated',
  '/a/../b',
  '/var/run/x',
  '\\',
];
const R_SOCKET_KEYS = [
  'ListenStream',
  'ListenDatagram',
  'ListenSequentialPacket',
  'ListenFIFO',
  'ListenSpecial',
  'ListenNetlink',
  'SocketProtocol',
  'SocketProtocol',
  'SocketProtocol',
  'BindIPv6Only',
  'Backlog',
  'BindToDevice',
  'SocketUser',
  'SocketGroup',
  'SocketMode',
  'DirectoryMode',
  'Accept',
  'Writable',
  'MaxConnections',
  'MaxConnectionsPerSource',
  'KeepAlive',
  'KeepAliveTimeSec',
  'KeepAliveIntervalSec',
  'KeepAliveProbes',
  'NoDelay',
  'Priority',
  'DeferAcceptSec',
  'ReceiveBuffer',
  'SendBuffer',
  'IPTOS',
  'IPTTL',
  'Mark',
  'PipeSize',
  'FreeBind',
  'Transparent',
  'Broadcast',
  'PassCredentials',
  'PassSecurity',
  'PassPacketInfo',
  'Timestamping',
  'TCPCongestion',
  'ReusePort',
  'RemoveOnStop',
  'Symlinks',
  'FileDescriptorName',
  'Service',
  'TriggerLimitIntervalSec',
  'TriggerLimitBurst',
  'PollLimitIntervalSec',
  'PollLimitBurst',
  'ExecStartPre',
  'TimeoutSec',
  'FlushPending',
  'X-MPTCPFallback',
  'FooBar',
];
const R_SERVICE_KEYS = [
  'Type',
  'ExecStart',
  'ExecStartPre',
  'ExecStop',
  'Environment',
  'EnvironmentFile',
  'WorkingDirectory',
  'User',
  'Group',
  'SupplementaryGroups',
  'Restart',
  'RestartSec',
  'StandardInput',
  'StandardOutput',
  'StandardError',
  'KillSignal',
  'KillMode',
  'TimeoutStopSec',
  'TimeoutStartSec',
  'NonBlocking',
  'Sockets',
  'RemainAfterExit',
  'PrivateTmp',
  'UMask',
  'WatchdogSec',
  'FooBar',
];
const R_UNIT_KEYS = [
  'Description',
  'Documentation',
  'StartLimitIntervalSec',
  'StartLimitBurst',
  'Wants',
  'After',
  'FooBar',
];

/**
 * `n` random unit files for the differential test against systemd 257's verify (`r<i>.socket` /
 * `r<i>.service`, plus the services and templates they trigger some of the time, and drop-ins).
 * Unlike generateUnitCorpus(), most values are wrong on purpose.
 */
export function randomUnits257(seed: number, n: number): GeneratedUnit[] {
  const r = prng(seed);
  const out: GeneratedUnit[] = [];
  for (let i = 0; i < n; i++) {
    const sock = r() < 0.6;
    const name = `r${i}.${sock ? 'socket' : 'service'}`;
    const lines: string[] = [];
    if (r() < 0.3) {
      lines.push('[Unit]');
      for (let k = 0; k < 1 + r() * 3; k++) lines.push(`${pick(r, R_UNIT_KEYS)}=${pick(r, R_VALUES)}`);
    }
    lines.push(sock ? '[Socket]' : '[Service]');
    if (sock) lines.push(r() < 0.8 ? `ListenStream=127.0.0.1:${20000 + i}` : `ListenStream=/run/r${i}.sock`);
    else if (r() < 0.8) lines.push('ExecStart=/bin/true');
    for (let k = 0; k < 1 + r() * 6; k++)
      lines.push(`${pick(r, sock ? R_SOCKET_KEYS : R_SERVICE_KEYS)}=${pick(r, R_VALUES)}`);
    out.push({ name, text: lines.join('\n') + '\n' });
    if (sock && r() < 0.75) out.push({ name: `r${i}.service`, text: '[Service]\nExecStart=/bin/true\n' });
    if (sock && r() < 0.5) out.push({ name: `r${i}@.service`, text: '[Service]\nExecStart=/bin/true\n' });
    if (r() < 0.15) {
      const head = r() < 0.2 ? (sock ? '[Socket' : '[Service') : sock ? '[Socket]' : '[Service]';
      out.push({
        name: `${name}.d/over.conf`,
        text: `${head}\n${pick(r, sock ? R_SOCKET_KEYS : R_SERVICE_KEYS)}=${pick(r, R_VALUES)}\n`,
      });
    }
  }
  return out;
}
