/**
 * Unit-file mutations for the parser fuzz: each takes a text and a PRNG and returns a damaged
 * variant that still looks like a unit file often enough to reach deep into the parser.
 */
export type Rand = () => number;
type Mutation = (text: string, r: Rand) => string;

const int = (r: Rand, n: number): number => Math.floor(r() * n);
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[int(r, xs.length)]!;

const KEYS = [
  'ListenStream',
  'ListenDatagram',
  'ListenSequentialPacket',
  'ListenFIFO',
  'ListenNetlink',
  'ListenSpecial',
  'Accept',
  'MaxConnections',
  'MaxConnectionsPerSource',
  'SocketProtocol',
  'Backlog',
  'BindIPv6Only',
  'KeepAliveTimeSec',
  'IPTOS',
  'SocketMode',
  'ReceiveBuffer',
  'TriggerLimitBurst',
  'TriggerLimitIntervalSec',
  'Service',
  'FileDescriptorName',
  'ExecStart',
  'ExecStartPre',
  'Environment',
  'EnvironmentFile',
  'User',
  'Group',
  'Type',
  'Restart',
  'RestartSec',
  'StandardInput',
  'StandardOutput',
  'TimeoutStopSec',
  'KillSignal',
  'WorkingDirectory',
  'StartLimitBurst',
  'StartLimitIntervalSec',
  'Description',
  'X-MPTCPFallback',
  'NonBlocking',
  'SupplementaryGroups',
];
const SECTIONS = [
  '[Unit]',
  '[Socket]',
  '[Service]',
  '[Install]',
  '[X-Custom]',
  '[Socket',
  'Socket]',
  '[]',
  '[[Service]]',
  '[Séction]',
];
const VALUES = [
  '',
  ' ',
  '0',
  '-1',
  '18446744073709551616',
  '0x50',
  '1e3',
  'yes',
  'maybe',
  'infinity',
  '5min 3s',
  '1.5s',
  '3 weeks',
  '127.0.0.1:80',
  '[::1]:0',
  '[fe80::1%lo]:22',
  '@abstract',
  '/run/x.sock',
  'vsock:2:80',
  'vsock:-1:x',
  '65536',
  'mptcp',
  'MPTCP',
  'tcp',
  '262',
  'sctp',
  '%n %i %%',
  '%Z',
  '%',
  '\\',
  '"unterminated',
  "'single",
  '"a" "b" c\\ d',
  '/bin/sh -c "echo $$HOME ${PATH} $FOO"',
  '@/bin/true true',
  '-:+/bin/x',
  '!!/bin/x',
  ';',
  '\\;',
  'a\\x41\\u00e9\\777',
  '\u0000',
  '\uFFFD\uD800',
  '\u00e9\u4e2d\u{1F600}',
  'x'.repeat(5000),
  '1K',
  '8E',
  '0777',
  '9999',
  'low-delay',
  'ipv6-only',
];

const mutations: Mutation[] = [
  // flip a character
  (t, r) => {
    if (!t) return t;
    const i = int(r, t.length);
    return t.slice(0, i) + String.fromCharCode(int(r, 128)) + t.slice(i + 1);
  },
  // delete a line
  (t, r) => {
    const ls = t.split('\n');
    ls.splice(int(r, ls.length), 1);
    return ls.join('\n');
  },
  // duplicate a line
  (t, r) => {
    const ls = t.split('\n');
    const i = int(r, ls.length);
    ls.splice(i, 0, ls[i] ?? '');
    return ls.join('\n');
  },
  // insert a random directive
  (t, r) => {
    const ls = t.split('\n');
    ls.splice(int(r, ls.length + 1), 0, `${pick(r, KEYS)}${pick(r, ['=', ' = ', '', '==', ' '])}${pick(r, VALUES)}`);
    return ls.join('\n');
  },
  // replace a value
  (t, r) => {
    const ls = t.split('\n');
    const i = int(r, ls.length);
    const l = ls[i] ?? '';
    const eq = l.indexOf('=');
    if (eq >= 0) ls[i] = `${l.slice(0, eq + 1)}${pick(r, VALUES)}`;
    return ls.join('\n');
  },
  // insert a section header
  (t, r) => {
    const ls = t.split('\n');
    ls.splice(int(r, ls.length + 1), 0, pick(r, SECTIONS));
    return ls.join('\n');
  },
  // truncate
  (t, r) => t.slice(0, int(r, t.length + 1)),
  // a continuation that runs off the end, or into the next line
  (t, r) => {
    const ls = t.split('\n');
    const i = int(r, ls.length);
    ls[i] = `${ls[i] ?? ''}\\`;
    return ls.join('\n');
  },
  // line endings and whitespace
  (t, r) =>
    pick(r, [
      t.replace(/\n/g, '\r\n'),
      t.replace(/\n/g, '\r'),
      t.replace(/=/g, ' = '),
      `\uFEFF${t}`,
      `${t}\n\n\n`,
      t.replace(/\n$/, ''),
    ]),
  // comment in odd places
  (t, r) => {
    const ls = t.split('\n');
    const i = int(r, ls.length);
    ls[i] = `${pick(r, ['#', ';', ' #', '\t;'])}${ls[i] ?? ''}`;
    return ls.join('\n');
  },
  // random bytes as text
  (_t, r) => Array.from({ length: int(r, 200) }, () => String.fromCharCode(int(r, 0x3000))).join(''),
  // a very long line (the 1 MiB limit is the parser's concern, keep the fuzz fast: 64 KiB)
  (t, r) => `${t}\n${pick(r, KEYS)}=${'x'.repeat(65536)}\n`,
];

/** Apply 1–4 random mutations. */
export function mutate(text: string, r: Rand): string {
  let t = text;
  const n = 1 + int(r, 4);
  for (let k = 0; k < n; k++) t = pick(r, mutations)(t, r);
  return t;
}

/**
 * The number of lines a diagnostic may point at (1…lines+1; EOF continuation = last + 1). Readers
 * differ on what ends a line (systemd's read_line takes \n, \r\n, \r and NUL), so the most
 * generous count is used: the fuzz checks "inside the file", not one line-splitting convention.
 */
export function lineCount(text: string): number {
  const count = (re: RegExp): number => {
    const parts = text.split(re);
    if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
    return text === '' ? 0 : parts.length;
  };
  return Math.max(count(/\n/), count(/\r\n|\r|\n|\0/));
}
