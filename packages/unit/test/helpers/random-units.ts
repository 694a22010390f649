/**
 * Random mixes of section headers, comments, continuations, CRLF/BOM and settings, for the line layer
 * of the differential test against systemd-analyze verify. The value-level random units come from
 * src/testing.ts (randomUnits257), which the 257 recorder uses as well.
 */
import { type GeneratedUnit, pick, prng } from '../../src/testing.js';

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
export function randomLineMixes(seed: number, n: number): GeneratedUnit[] {
  const r = prng(seed);
  const out: GeneratedUnit[] = [];
  for (let i = 0; i < n; i++) {
    const sock = r() < 0.5;
    const lines: string[] = [];
    const count = 2 + Math.floor(r() * 12);
    for (let k = 0; k < count; k++) lines.push(pick(r, LINES));
    const eol = pick(r, ['\n', '\n', '\n', '\r\n']);
    let text = lines.join(eol) + (r() < 0.8 ? eol : '');
    if (r() < 0.1) text = '\ufeff' + text;
    out.push({ name: `g${i}.${sock ? 'socket' : 'service'}`, text });
    if (sock && r() < 0.6) out.push({ name: `g${i}.service`, text: '[Service]\nExecStart=/bin/true\n' });
    if (r() < 0.3) out.push({ name: `g${i}@.service`, text: '[Service]\nExecStart=/bin/true\n' });
  }
  return out;
}
