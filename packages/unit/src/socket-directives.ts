/**
 * The [Socket] table, like systemd's load-fragment-gperf.gperf.in: one row per key, carrying its
 * parser, model field, default, printer and, for a setsockopt option, the @mptcp/constants
 * descriptor field it feeds (socketOptionValues()).
 */
import { parseSocketProtocol, type SocketOptionValues } from '@mptcp/constants';
import { parseNetlinkAddress, parseSocketAddress } from './address.js';
import { strerror } from './errno.js';
import { pathSimplify } from './exec.js';
import { formatListenValue, LISTEN_KEYS, pct } from './format.js';
import type { DirectiveContext, DirectiveParser, LoadState } from './load-state.js';
import type { ListenKind, SocketUnit } from './model.js';
import { DEFAULT_TIMEOUT_USEC } from './defaults.js';
import { quoteWord } from './quoting.js';
import {
  BIND_IPV6_ONLY,
  BOOL,
  custom,
  INT,
  IP_TOS,
  lite,
  LONG,
  MODE,
  optional,
  parseFailed,
  parsersOf,
  SEC,
  SEC_FIX0,
  SIZE,
  socketOptionsOf,
  STRING,
  TIMESTAMPING,
  UNSIGNED,
  value,
  type DirectiveRow,
  type ModelFields,
} from './registry.js';
import { parseUnitName } from './unit-name.js';
import {
  type Core,
  type Limits,
  sock,
  expand,
  expandOrWarn,
  forEachWord,
  pending,
  IFNAME,
  kept,
  checkPath,
  keptUserGroup,
  execRow,
  printText,
  userGroupRow,
  fdnameIsValid,
} from './directive-helpers.js';

// ---- Listen*= ----------------------------------------------------------------------------------

const LISTEN_KIND: Readonly<Record<string, ListenKind>> = {
  ListenStream: 'stream',
  ListenDatagram: 'datagram',
  ListenSequentialPacket: 'seqpacket',
  ListenFIFO: 'fifo',
  ListenSpecial: 'special',
  ListenNetlink: 'netlink',
  ListenMessageQueue: 'mqueue',
  ListenUSBFunction: 'usb-function',
};

/** patch_var_run() (systemd >= 254): `/var/run/...` becomes `/run/...`, with a notice. */
function patchVarRun(c: DirectiveContext, path: string): string {
  if (!path.startsWith('/var/run/')) return path;
  const z = pathSimplify('/run/' + path.slice('/var/run/'.length));
  c.warn(
    `${c.key}= references a path below legacy directory /var/run/, updating ${path} → ${z}; please update the unit file accordingly.`,
  );
  return z;
}

/**
 * A copy of `s` that does not point into the unit file's text. V8 makes a substring of 13 characters
 * or more a view of its parent, so a kept `ListenStream=127.0.0.2:20000` value would keep the whole
 * file text alive for as long as the daemon runs (~0.15 KB per socket unit; nothing else of a typical
 * socket unit's text is kept).
 */
function unsliced(s: string): string {
  return s.length < 13 ? s : (JSON.parse(JSON.stringify(s)) as string);
}

/** config_parse_socket_listen(). */
const listen: DirectiveParser = (v, c) => {
  const u = sock(c);
  if (v === '') {
    u.listen = [];
    return;
  }
  const kind = LISTEN_KIND[c.key] as ListenKind;
  const k = expandOrWarn(c, v);
  if (k === undefined) return;
  if (kind === 'fifo' || kind === 'special' || kind === 'mqueue' || kind === 'usb-function') {
    let p = checkPath(c, k);
    if (p === undefined) return;
    if (kind === 'fifo') p = patchVarRun(c, p);
    u.listen.push({ kind, value: p, file: c.file, line: c.line, address: { family: 'path', path: p } });
  } else if (kind === 'netlink') {
    const r = parseNetlinkAddress(k);
    if (!r.ok) return c.warn(`Failed to parse address value in '${k}', ignoring: ${strerror(r.error)}`);
    u.listen.push({ kind, value: k, file: c.file, line: c.line, address: r.value });
  } else {
    const opts: { ipv6?: boolean; interfaces?: NonNullable<LoadState['options']['interfaces']> } = {};
    if (c.state.options.ipv6 !== undefined) opts.ipv6 = c.state.options.ipv6;
    if (c.state.options.interfaces) opts.interfaces = c.state.options.interfaces;
    const a = unsliced(k.startsWith('/') ? patchVarRun(c, k) : k);
    const r = parseSocketAddress(a, opts);
    if (!r.ok) return c.warn(`Failed to parse address value in '${a}', ignoring: ${strerror(r.error)}`);
    if (r.value.family === 'inet6' && c.state.options.ipv6 === false) {
      // socket_address_parse_and_warn(): a plain log line, then EAFNOSUPPORT, which the caller does not report.
      c.state.diagnostics.push({
        severity: 'warning',
        file: c.file,
        unit: c.state.unit.name,
        message: 'Binding to IPv6 address not available since kernel does not support IPv6.',
      });
      return;
    }
    if (kind === 'seqpacket' && r.value.family !== 'unix')
      return c.warn(`Address family not supported, ignoring: ${v}`);
    u.listen.push({ kind, value: a, file: c.file, line: c.line, address: r.value });
  }
  // ListenSpecial= is honoured (the engine opens the file and watches it, as systemd does: a file that
  // cannot be polled, like a regular file, fails the socket with EPERM); the others are not.
  if (c.state.options.liteWarnings !== false && (kind === 'netlink' || kind === 'mqueue' || kind === 'usb-function')) {
    c.warn(`${c.key}= is not supported by mptcpd-lite, ignoring`);
  }
};

/**
 * IPPROTO_* names systemd's socket_protocol_from_name() also knows (the IPv6 extension headers of
 * <netinet/in.h>): known, so refused with "Protocol not supported" rather than "Invalid argument".
 */
const IPV6_EXTENSION_PROTOCOLS: ReadonlySet<string> = new Set([
  'hopopts',
  'routing',
  'fragment',
  'icmpv6',
  'none',
  'dstopts',
  'mh',
]);

type LimitField = 'triggerLimitIntervalUsec' | 'triggerLimitBurst' | 'pollLimitIntervalUsec' | 'pollLimitBurst';

/**
 * TriggerLimit*=/PollLimit*= defaults (socket_verify(): unset, infinity or UINT_MAX): 2 s, and a
 * burst that depends on Accept=. Resolved when loading ends (finishSocket()) and by the printer.
 */
export const LIMIT_DEFAULTS: Readonly<Record<LimitField, (accept: boolean) => number>> = {
  triggerLimitIntervalUsec: () => 2_000_000,
  triggerLimitBurst: (accept) => (accept ? 200 : 20),
  pollLimitIntervalUsec: () => 2_000_000,
  pollLimitBurst: (accept) => (accept ? 150 : 15),
};

/** A TriggerLimit*=/PollLimit*= row: kept pending until loading ends, printed when not the default. */
function limitRow(f: LimitField): DirectiveRow<Limits> {
  const type = f.endsWith('Usec') ? SEC : UNSIGNED;
  return custom(
    pending(type, (p, v) => (p[f] = v)),
    (u, key) => (u[f] === LIMIT_DEFAULTS[f](u.accept) ? [] : [`${key}=${type.format(u[f])}`]),
  );
}

const usecToSec = (usec: number): number => Math.floor(usec / 1_000_000);

/**
 * The [Socket] table, in the order `printSocketUnit()` writes the settings back. Value rows carry
 * their model field (SocketUnit's fields are derived from them), default, printer and, for
 * setsockopt options, the @mptcp/constants descriptor field openSocket() applies.
 */
export const SOCKET_TABLE = {
  // Every Listen*= line is printed, in order, by the first row.
  ListenStream: custom<Core>(listen, (u) => u.listen.map((e) => `${LISTEN_KEYS[e.kind]}=${formatListenValue(e)}`)),
  ListenDatagram: custom(listen),
  ListenSequentialPacket: custom(listen),
  ListenFIFO: custom(listen),
  ListenSpecial: custom(listen),
  ListenNetlink: custom(listen),
  ListenMessageQueue: custom(listen),
  ListenUSBFunction: custom(listen),
  SocketProtocol: custom<Core>(
    (v, c) => {
      // "Invalid argument" for an unknown name, "Protocol not supported" for a known one not allowed here.
      const r = parseSocketProtocol(v, c.state.options.systemdVersion ?? 257);
      if (r.ok) sock(c).socketProtocol = r.protocol;
      else
        parseFailed(
          c,
          v,
          r.error === 'EINVAL' && IPV6_EXTENSION_PROTOCOLS.has(v.toLowerCase()) ? 'EPROTONOSUPPORT' : r.error,
        );
    },
    (u, key) => (u.socketProtocol !== 0 ? [`${key}=${u.socketProtocol}`] : []),
  ),
  BindIPv6Only: value(BIND_IPV6_ONLY, 'bindIPv6Only', 'default'),
  Backlog: value(UNSIGNED, 'backlog', 2147483647),
  BindToDevice: optional(IFNAME, 'bindToDevice', {
    resets: (v) => v === '' || v === '*',
    invalid: (v) => `Invalid interface name, ignoring: ${v}`,
    sockopt: 'bindToDevice',
  }),
  SocketUser: userGroupRow('socketUser'),
  SocketGroup: userGroupRow('socketGroup'),
  SocketMode: value(MODE, 'socketMode', 0o666),
  DirectoryMode: value(MODE, 'directoryMode', 0o755),
  Accept: value(BOOL, 'accept', false),
  Writable: value(BOOL, 'writable', false, { lite: 'if-set' }),
  FlushPending: value(BOOL, 'flushPending', false),
  MaxConnections: value(UNSIGNED, 'maxConnections', 64),
  MaxConnectionsPerSource: value(UNSIGNED, 'maxConnectionsPerSource', 0),
  KeepAlive: value(BOOL, 'keepAlive', false, { sockopt: 'keepAlive' }),
  KeepAliveTimeSec: optional(SEC, 'keepAliveTimeUsec', { sockopt: { field: 'keepAliveTimeSec', encode: usecToSec } }),
  KeepAliveIntervalSec: optional(SEC, 'keepAliveIntervalUsec', {
    sockopt: { field: 'keepAliveIntervalSec', encode: usecToSec },
  }),
  KeepAliveProbes: optional(UNSIGNED, 'keepAliveProbes', { sockopt: 'keepAliveProbes' }),
  NoDelay: value(BOOL, 'noDelay', false, { sockopt: 'noDelay' }),
  Priority: optional(INT, 'priority', { sockopt: 'priority' }),
  DeferAcceptSec: value(SEC, 'deferAcceptUsec', 0, {
    // TCP_DEFER_ACCEPT takes seconds, rounded up (0 = off).
    sockopt: { field: 'deferAcceptSec', encode: (usec) => (usec > 0 ? Math.ceil(usec / 1_000_000) : undefined) },
  }),
  ReceiveBuffer: optional(SIZE, 'receiveBuffer', { sockopt: 'receiveBuffer' }),
  SendBuffer: optional(SIZE, 'sendBuffer', { sockopt: 'sendBuffer' }),
  IPTOS: optional(IP_TOS, 'ipTos', { resets: (v) => v === '', sockopt: 'ipTos' }),
  IPTTL: optional(INT, 'ipTtl', { sockopt: 'ipTtl' }),
  Mark: optional(INT, 'mark', { sockopt: 'mark' }),
  ReusePort: value(BOOL, 'reusePort', false, { sockopt: 'reusePort' }),
  FreeBind: value(BOOL, 'freeBind', false, { sockopt: 'freeBind' }),
  Transparent: value(BOOL, 'transparent', false, { sockopt: 'transparent' }),
  Broadcast: value(BOOL, 'broadcast', false, { sockopt: 'broadcast' }),
  PassCredentials: value(BOOL, 'passCredentials', false, { sockopt: 'passCredentials' }),
  PassSecurity: value(BOOL, 'passSecurity', false, { lite: 'if-set', sockopt: 'passSecurity' }),
  PassPacketInfo: value(BOOL, 'passPacketInfo', false, { lite: 'if-set', sockopt: 'passPacketInfo' }),
  Timestamping: value(TIMESTAMPING, 'timestamping', 'off', { sockopt: 'timestamping' }),
  TCPCongestion: optional(STRING, 'tcpCongestion', { resets: (v) => v === '', sockopt: 'tcpCongestion' }),
  PipeSize: optional(SIZE, 'pipeSize', { lite: 'always' }),
  MessageQueueMaxMessages: optional(LONG, 'messageQueueMaxMessages', { lite: 'always' }),
  MessageQueueMessageSize: optional(LONG, 'messageQueueMessageSize', { lite: 'always' }),
  ExecStartPre: execRow('execStartPre'),
  ExecStartPost: execRow('execStartPost'),
  ExecStopPre: execRow('execStopPre'),
  ExecStopPost: execRow('execStopPost'),
  TimeoutSec: value(SEC_FIX0, 'timeoutUsec', DEFAULT_TIMEOUT_USEC),
  Service: custom<Core>((v, c) => {
    const k = expand(c, v, (err) => c.warn(`Failed to resolve unit specifiers in ${v}, ignoring: ${err}`), 'name');
    if (k === undefined) return;
    if (!k.endsWith('.service')) return c.warn(`Unit must be of type service, ignoring: ${v}`);
    const n = parseUnitName(k);
    if (!n) return c.warn(`Failed to load unit ${v}, ignoring: Unit name ${k} is not valid.`);
    // manager_load_unit_prepare(): a template cannot be loaded; 257 warns and keeps the previous value.
    if (n.template) return c.warn(`Failed to load unit ${v}, ignoring: Unit name ${k} is missing the instance name.`);
    sock(c).service = k;
  }, printText('service')),
  RemoveOnStop: value(BOOL, 'removeOnStop', false),
  Symlinks: custom<Core>(
    (v, c) => {
      const u = sock(c);
      if (v === '') {
        u.symlinks = [];
        return;
      }
      forEachWord(
        v,
        { unquote: true },
        (word) => {
          const k = expandOrWarn(c, word);
          const p = k === undefined ? undefined : checkPath(c, k);
          if (p === undefined) return false;
          u.symlinks.push(p);
        },
        () => c.warn(`Invalid syntax, ignoring: ${v}`),
      );
    },
    (u, key) => u.symlinks.map((s) => `${key}=${pct(quoteWord(s))}`),
  ),
  FileDescriptorName: custom<Core>((v, c) => {
    if (v === '') {
      delete sock(c).fileDescriptorName;
      return;
    }
    const k = expandOrWarn(c, v);
    if (k === undefined) return;
    if (!fdnameIsValid(k)) return c.warn(`Invalid file descriptor name, ignoring: ${k}`);
    sock(c).fileDescriptorName = k;
  }, printText('fileDescriptorName')),
  TriggerLimitIntervalSec: limitRow('triggerLimitIntervalUsec'),
  TriggerLimitBurst: limitRow('triggerLimitBurst'),
  PollLimitIntervalSec: limitRow('pollLimitIntervalUsec'),
  PollLimitBurst: limitRow('pollLimitBurst'),
  SmackLabel: custom(lite(kept('printf'))),
  SmackLabelIPIn: custom(lite(kept('printf'))),
  SmackLabelIPOut: custom(lite(kept('printf'))),
  SELinuxContextFromNet: value(BOOL, 'selinuxContextFromNet', false, { lite: 'if-set' }),
  PassFileDescriptorsToExec: value(BOOL, 'passFileDescriptorsToExec', false, { lite: 'if-set' }),
  'X-MPTCPFallback': value(BOOL, 'mptcpFallback', false),
  // For the socket's Exec*= helpers: checked like systemd (an invalid name is fatal), kept verbatim.
  User: custom(keptUserGroup),
  Group: custom(keptUserGroup),
};

/** SocketUnit's value fields, derived from the [Socket] table's value rows. */
export type SocketValueFields = ModelFields<typeof SOCKET_TABLE>;

export const SOCKET_DIRECTIVES: Readonly<Record<string, DirectiveParser>> = parsersOf(SOCKET_TABLE);

/** The openSocket() options (setsockopt) of a socket unit, from the table's `sockopt` rows. */
export function socketOptionValues(u: SocketUnit): SocketOptionValues {
  return socketOptionsOf(SOCKET_TABLE, u);
}
