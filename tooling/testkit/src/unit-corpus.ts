/**
 * A second generator of unit files (comments, continuations, quoting, every common directive),
 * deterministic for a seed. @mptcp/unit's own generateUnitCorpus drives the parse benchmark; the
 * fuzz suite mixes both, so the parser is not only tested with texts written by its own author.
 */
import { type GeneratedUnit, prng } from '@mptcp/unit/testing';

export { type GeneratedUnit, prng };

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

function listen(r: () => number, i: number): string {
  const port = 10000 + (i % 50000);
  return pick(r, [
    `ListenStream=${port}`,
    `ListenStream=127.0.0.1:${port}`,
    `ListenStream=[::1]:${port}`,
    `ListenStream=0.0.0.0:${port}`,
    `ListenStream=/run/gen/u${i}.sock`,
    `ListenStream=@gen-${i}`,
    `ListenDatagram=127.0.0.1:${port}`,
    `ListenSequentialPacket=/run/gen/s${i}.sock`,
    `ListenFIFO=/run/gen/f${i}.fifo`,
    `ListenStream=vsock:2:${port}`,
  ]);
}

const SOCKET_EXTRAS = [
  'Backlog=128',
  'NoDelay=yes',
  'KeepAlive=true',
  'KeepAliveTimeSec=2min 30s',
  'KeepAliveIntervalSec=75',
  'KeepAliveProbes=9',
  'ReusePort=on',
  'FreeBind=no',
  'SocketMode=0660',
  'DirectoryMode=0755',
  'ReceiveBuffer=1M',
  'SendBuffer=256K',
  'IPTOS=low-delay',
  'IPTTL=64',
  'Mark=42',
  'PassCredentials=yes',
  'DeferAcceptSec=5s',
  'TriggerLimitIntervalSec=1s',
  'TriggerLimitBurst=50',
  'BindIPv6Only=both',
  'SocketProtocol=mptcp',
  'X-MPTCPFallback=yes',
  'FileDescriptorName=web',
  'TimeoutSec=1min',
  'MaxConnectionsPerSource=16',
];

const SERVICE_EXTRAS = [
  'Environment=FOO=bar "BAZ=with space" QUX=\\x41',
  'Environment=',
  'EnvironmentFile=-/etc/default/gen',
  'WorkingDirectory=-/srv/gen',
  'User=nobody',
  'Group=nogroup',
  'SupplementaryGroups=adm tty',
  'Restart=on-failure',
  'RestartSec=250ms',
  'TimeoutStopSec=5s',
  'KillMode=mixed',
  'KillSignal=SIGINT',
  'StandardOutput=journal',
  'StandardError=inherit',
  'Type=notify',
  'NonBlocking=yes',
  'ExecStartPre=-/bin/true',
  'ExecStartPost=/bin/echo started %n',
];

const EXEC = [
  '/usr/bin/env node /srv/app/server.js --port=${PORT}',
  '/bin/cat',
  '@/bin/sh sh -c \'echo "a;b|c" $$1\' -- x',
  '-/usr/bin/python3 -m http.server',
  ':/bin/echo $NOT_EXPANDED',
  '/usr/lib/gen/daemon --config /etc/gen/%i.conf \\\n    --verbose --log-level=debug',
  'cat',
];

function comment(r: () => number): string {
  return pick(r, ['# generated', '; a semicolon comment', '#', '# ListenStream=9 (commented out)']);
}

/** One socket unit and its service; Accept=yes sockets get a template service. */
export function generatePair(i: number, r: () => number): GeneratedUnit[] {
  const accept = r() < 0.4;
  const base = `gen${i}`;
  const sock: string[] = [comment(r), '[Unit]', `Description=Generated socket ${i}`];
  if (r() < 0.3) sock.push('Documentation=man:gen(8) https://example.invalid/gen');
  sock.push('', '[Socket]');
  const n = 1 + Math.floor(r() * 3);
  for (let k = 0; k < n; k++)
    sock.push(accept ? `ListenStream=127.0.0.1:${10000 + ((i * 3 + k) % 50000)}` : listen(r, i * 3 + k));
  if (accept) sock.push('Accept=yes', `MaxConnections=${pick(r, [16, 64, 256])}`);
  for (const e of SOCKET_EXTRAS) if (r() < 0.15) sock.push(e);
  if (r() < 0.2) sock.push(comment(r));
  if (r() < 0.3) sock.push('', '[Install]', 'WantedBy=sockets.target');
  const svc: string[] = [
    '[Unit]',
    `Description=Generated service ${i} \\`,
    '  continued on a second line',
    '',
    '[Service]',
  ];
  svc.push(`ExecStart=${pick(r, EXEC)}`);
  if (accept) svc.push('StandardInput=socket');
  for (const e of SERVICE_EXTRAS) if (r() < 0.15) svc.push(e);
  return [
    { name: `${base}.socket`, text: `${sock.join('\n')}\n` },
    { name: accept ? `${base}@.service` : `${base}.service`, text: `${svc.join('\n')}\n` },
  ];
}

/** `count` units (socket/service pairs, so count rounds up to even). */
export function generateCorpus(count: number, seed = 1): GeneratedUnit[] {
  const r = prng(seed);
  const out: GeneratedUnit[] = [];
  for (let i = 0; out.length < count; i++) out.push(...generatePair(i, r));
  return out;
}
