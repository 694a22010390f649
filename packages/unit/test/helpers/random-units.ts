/**
 * Random unit files built from values that exercise the parsers (valid and invalid), for the
 * differential test against systemd-analyze verify. Avoids what differs between systemd 252 and 257
 * (SocketProtocol=mptcp, PollLimit*=, /var/run/ paths, named vsock CIDs).
 */
import { prng } from '../../src/testing.js';

export const VALUES = [
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
  '0o17',
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
  '/run/x.sock',
  'rel',
  '@abs',
  '127.0.0.1:80',
  '[::1]:8080',
  '8080',
  '65536',
  '[::1]:80%%lo',
  'route 1',
  'low-delay',
  '0644',
  '0o644',
  'sctp',
  'udplite',
  'tcp',
  'both',
  'ipv6-only',
  'default',
  'foo.service',
  'foo.target',
  'a:b',
  'nobody',
  'daemon',
  '-',
  '1:2',
  'SIGTERM',
  'TERM',
  'FOO',
  'mixed',
  'none',
  'control-group',
  'on-failure',
  'always',
  'simple',
  'oneshot',
  'notify',
  'dbus',
  'socket',
  'null',
  'journal',
  'file:/tmp/x',
  'fd:foo',
  'A=b "C=d e"',
  'BAD',
  '/bin/true',
  '-/bin/false x',
  '@/bin/echo echo hi',
  '/bin/echo "a b" \\x41 ; /bin/true',
  '/bin/echo \\q',
  '"unterminated',
  'x y z',
  '~',
  '-~',
  '/tmp',
  '/a/../b',
  '\\',
  'a\\\\',
  'all',
  'lo',
];
const SOCKET_KEYS = [
  'ListenStream',
  'ListenDatagram',
  'ListenSequentialPacket',
  'ListenFIFO',
  'ListenSpecial',
  'ListenNetlink',
  'ListenMessageQueue',
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
  'ExecStartPre',
  'ExecStartPost',
  'TimeoutSec',
  'FlushPending',
  'User',
  'Group',
  'PrivateTmp',
  'FooBar',
  'X-Thing',
];
const SERVICE_KEYS = [
  'Type',
  'ExecStart',
  'ExecStartPre',
  'ExecStartPost',
  'ExecStop',
  'ExecStopPost',
  'ExecReload',
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
  'TimeoutSec',
  'NonBlocking',
  'Sockets',
  'RemainAfterExit',
  'PrivateTmp',
  'UMask',
  'WatchdogSec',
  'DynamicUser',
  'FooBar',
];
const UNIT_KEYS = [
  'Description',
  'Documentation',
  'StartLimitIntervalSec',
  'StartLimitBurst',
  'Wants',
  'After',
  'FooBar',
];

export interface RandomUnitFile {
  name: string;
  text: string;
}

/** `n` random units (sockets get a same-named service or a template some of the time). */
export function randomUnits(seed: number, n: number): RandomUnitFile[] {
  const r = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const out: RandomUnitFile[] = [];
  for (let i = 0; i < n; i++) {
    const sock = r() < 0.5;
    const name = `f${i}.${sock ? 'socket' : 'service'}`;
    const lines: string[] = [];
    if (r() < 0.4) {
      lines.push('[Unit]');
      for (let k = 0; k < 1 + r() * 3; k++) lines.push(`${pick(UNIT_KEYS)}=${pick(VALUES)}`);
    }
    lines.push(sock ? '[Socket]' : '[Service]');
    if (sock) lines.push(`ListenStream=127.0.0.1:${18000 + i}`);
    else if (r() < 0.8) lines.push('ExecStart=/bin/true');
    for (let k = 0; k < 1 + r() * 6; k++) {
      let v = pick(VALUES);
      if (r() < 0.1) v += '\\';
      lines.push(`${pick(sock ? SOCKET_KEYS : SERVICE_KEYS)}=${v}`);
      if (r() < 0.05) lines.push('  # comment');
    }
    out.push({ name, text: lines.join('\n') + '\n' });
    if (sock && r() < 0.7) out.push({ name: `f${i}.service`, text: '[Service]\nExecStart=/bin/true\n' });
    if (sock && r() < 0.5) out.push({ name: `f${i}@.service`, text: '[Service]\nExecStart=/bin/true\n' });
  }
  return out;
}

const LINES = [
  '[Unit]',
  '[Socket]',
  '[Service]',
  '[Install]',
  '[X-Foo]',
  '[Bogus]',
  '[socket]',
  '  [Socket]  ',
  'Description=hello %n',
  'Description=a\\',
  '  continued',
  '# comment\\',
  '; c',
  '',
  '   ',
  'key',
  '=value',
  'ExecStart=/bin/echo "a  b" \'c\' d\\ e $X ${Y} $$Z %%',
  'ExecStart=-/bin/false',
  'ExecStart=',
  'ExecStartPre=+/bin/true',
  'ExecStartPre=!!/bin/true',
  'ExecStart=:/bin/true $X',
  'Environment="A=1" B=2 \'C=3 4\'',
  'Environment=',
  'Environment="A=\\x41"',
  'Environment=A=$HOME',
  'EnvironmentFile=-/etc/nonexistent',
  'ListenStream=80',
  'ListenStream=',
  'ListenDatagram=[::]:53',
  'ListenStream=/run/%N.sock',
  'Accept=yes',
  'Accept=no',
  'MaxConnections=0',
  'Service=x.service',
  'Type=oneshot',
  'Type=simple',
  'Type=forking',
  'RemainAfterExit=yes',
  'Restart=always',
  'Symlinks=/run/a',
  'WantedBy=multi-user.target',
  'Also=x.socket',
  'Alias=y.service',
  'DefaultInstance=foo',
  'X-Key=1',
  'Backlog=1\\',
  '2',
  'SocketMode=0600',
  'Description=\\\\',
  'ExecStop=/bin/kill $MAINPID',
  'WorkingDirectory=/tmp',
  'PIDFile=/run/x.pid',
  'BusName=org.x.y',
  'Sockets=%p.socket',
  'FileDescriptorName=%p',
  'TimeoutSec=0',
  'StandardInput=socket',
  'StandardOutput=tty',
  'ListenFIFO=/run/%p.fifo',
  'ListenStream=@%p',
];

/** `n` random files mixing section headers, comments, continuations and settings (line layer + load checks). */
export function randomLineMixes(seed: number, n: number): RandomUnitFile[] {
  const r = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const out: RandomUnitFile[] = [];
  for (let i = 0; i < n; i++) {
    const sock = r() < 0.5;
    const lines: string[] = [];
    const count = 2 + Math.floor(r() * 12);
    for (let k = 0; k < count; k++) lines.push(pick(LINES));
    const eol = pick(['\n', '\n', '\n', '\r\n']);
    let text = lines.join(eol) + (r() < 0.8 ? eol : '');
    if (r() < 0.1) text = '\ufeff' + text;
    out.push({ name: `g${i}.${sock ? 'socket' : 'service'}`, text });
    if (sock && r() < 0.6) out.push({ name: `g${i}.service`, text: '[Service]\nExecStart=/bin/true\n' });
    if (r() < 0.3) out.push({ name: `g${i}@.service`, text: '[Service]\nExecStart=/bin/true\n' });
  }
  return out;
}
