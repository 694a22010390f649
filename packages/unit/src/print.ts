/**
 * Models back to unit-file text. parseUnitText(printXUnit(u)) gives `u` back (file/line
 * bookkeeping aside), which the print → parse property test checks.
 */
import { VMADDR_CID_ANY } from './address.js';
import type { ExecCommand, ListenEntry, ServiceUnit, SocketUnit, UnitSection } from './model.js';
import { defaultServiceUnit, defaultSocketUnit, DEFAULT_TIMEOUT_USEC } from './parse.js';
import { quoteWord } from './quoting.js';
import { formatTimespan } from './values/timespan.js';

/** `%` must be doubled in values that go through specifier expansion. */
const pct = (s: string): string => s.replace(/%/g, '%%');

const LISTEN_KEYS: Readonly<Record<ListenEntry['kind'], string>> = {
  stream: 'ListenStream',
  datagram: 'ListenDatagram',
  seqpacket: 'ListenSequentialPacket',
  fifo: 'ListenFIFO',
  special: 'ListenSpecial',
  netlink: 'ListenNetlink',
  mqueue: 'ListenMessageQueue',
  'usb-function': 'ListenUSBFunction',
};

/** The Listen*= value that parses back to this entry's address. */
export function formatListenValue(e: Pick<ListenEntry, 'address'>): string {
  const a = e.address;
  switch (a.family) {
    case 'inet':
      return `${a.address}:${a.port}${a.ifname !== undefined ? `%%${a.ifname}` : ''}`;
    case 'inet6': {
      const scope = a.scopeId ? `%%${a.ifname ?? String(a.scopeId)}` : '';
      return `[${a.address}]:${a.port}${scope}`;
    }
    case 'unix':
      return pct(a.abstract ? `@${a.path}` : a.path);
    case 'vsock': {
      const prefix = a.type ? `vsock-${a.type}:` : 'vsock:';
      return `${prefix}${a.cid === VMADDR_CID_ANY ? '' : a.cid}:${a.port}`;
    }
    case 'netlink':
      return `${a.protocol} ${a.group}`;
    case 'path':
      return pct(a.path);
  }
}

function execLine(c: ExecCommand): string {
  let prefix = '';
  if (c.ignoreFailure) prefix += '-';
  if (c.argv0Override) prefix += '@';
  if (c.noEnvExpand) prefix += ':';
  if (c.fullPrivileges) prefix += '+';
  else if (c.ambientMagic) prefix += '!!';
  else if (c.noUserSwitch) prefix += '!';
  const words = c.argv0Override ? [c.path, ...c.argv] : c.argv;
  const [first, ...rest] = words;
  return [prefix + pct(quoteWord(first ?? c.path)), ...rest.map((w) => pct(quoteWord(w)))].join(' ');
}

class Writer {
  readonly lines: string[] = [];
  section(name: string): void {
    if (this.lines.length > 0) this.lines.push('');
    this.lines.push(`[${name}]`);
  }
  set(key: string, value: string | number | boolean | undefined): void {
    if (value === undefined) return;
    this.lines.push(`${key}=${typeof value === 'boolean' ? (value ? 'yes' : 'no') : String(value)}`);
  }
  /** Only when different from the default. */
  diff<T>(key: string, value: T, def: T, fmt: (v: T) => string = String): void {
    if (value !== def) this.lines.push(`${key}=${fmt(value)}`);
  }
  bool(key: string, value: boolean, def = false): void {
    if (value !== def) this.lines.push(`${key}=${value ? 'yes' : 'no'}`);
  }
  verbatim(rec: Readonly<Record<string, readonly string[]>>): void {
    for (const [k, vs] of Object.entries(rec)) for (const v of vs) this.lines.push(`${k}=${v}`);
  }
  exec(key: string, list: readonly ExecCommand[]): void {
    for (const c of list) this.lines.push(`${key}=${execLine(c)}`);
  }
  text(): string {
    return this.lines.join('\n') + '\n';
  }
}

const oct = (n: number): string => '0' + n.toString(8);

function writeUnitSection(w: Writer, u: UnitSection, def: UnitSection): void {
  w.section('Unit');
  if (u.description !== undefined) w.set('Description', pct(u.description));
  for (const d of u.documentation) w.set('Documentation', pct(quoteWord(d)));
  w.diff('StartLimitIntervalSec', u.startLimitIntervalUsec, def.startLimitIntervalUsec, formatTimespan);
  w.diff('StartLimitBurst', u.startLimitBurst, def.startLimitBurst);
  w.diff('SuccessAction', u.successAction, def.successAction);
  w.verbatim(u.extra);
}

function writeInstall(w: Writer, install: Readonly<Record<string, readonly string[]>>): void {
  if (Object.keys(install).length === 0) return;
  w.section('Install');
  w.verbatim(install);
}

/** Renders a SocketUnit as unit-file text. */
export function printSocketUnit(u: SocketUnit): string {
  const d = defaultSocketUnit(u.name, u.file);
  const w = new Writer();
  writeUnitSection(w, u.unit, d.unit);
  w.section('Socket');
  for (const e of u.listen) w.set(LISTEN_KEYS[e.kind], formatListenValue(e));
  if (u.socketProtocol !== 0) w.set('SocketProtocol', u.socketProtocol);
  w.diff('BindIPv6Only', u.bindIPv6Only, d.bindIPv6Only);
  w.diff('Backlog', u.backlog, d.backlog);
  w.set('BindToDevice', u.bindToDevice);
  if (u.socketUser !== undefined) w.set('SocketUser', pct(u.socketUser));
  if (u.socketGroup !== undefined) w.set('SocketGroup', pct(u.socketGroup));
  w.diff('SocketMode', u.socketMode, d.socketMode, oct);
  w.diff('DirectoryMode', u.directoryMode, d.directoryMode, oct);
  w.bool('Accept', u.accept);
  w.bool('Writable', u.writable);
  w.bool('FlushPending', u.flushPending);
  w.diff('MaxConnections', u.maxConnections, d.maxConnections);
  w.diff('MaxConnectionsPerSource', u.maxConnectionsPerSource, d.maxConnectionsPerSource);
  w.bool('KeepAlive', u.keepAlive);
  if (u.keepAliveTimeUsec !== undefined) w.set('KeepAliveTimeSec', formatTimespan(u.keepAliveTimeUsec));
  if (u.keepAliveIntervalUsec !== undefined) w.set('KeepAliveIntervalSec', formatTimespan(u.keepAliveIntervalUsec));
  w.set('KeepAliveProbes', u.keepAliveProbes);
  w.bool('NoDelay', u.noDelay);
  w.set('Priority', u.priority);
  w.diff('DeferAcceptSec', u.deferAcceptUsec, d.deferAcceptUsec, formatTimespan);
  w.set('ReceiveBuffer', u.receiveBuffer);
  w.set('SendBuffer', u.sendBuffer);
  w.set('IPTOS', u.ipTos);
  w.set('IPTTL', u.ipTtl);
  w.set('Mark', u.mark);
  w.bool('ReusePort', u.reusePort);
  w.bool('FreeBind', u.freeBind);
  w.bool('Transparent', u.transparent);
  w.bool('Broadcast', u.broadcast);
  w.bool('PassCredentials', u.passCredentials);
  w.bool('PassSecurity', u.passSecurity);
  w.bool('PassPacketInfo', u.passPacketInfo);
  w.diff('Timestamping', u.timestamping, d.timestamping);
  w.set('TCPCongestion', u.tcpCongestion);
  w.set('PipeSize', u.pipeSize);
  w.set('MessageQueueMaxMessages', u.messageQueueMaxMessages);
  w.set('MessageQueueMessageSize', u.messageQueueMessageSize);
  w.exec('ExecStartPre', u.execStartPre);
  w.exec('ExecStartPost', u.execStartPost);
  w.exec('ExecStopPre', u.execStopPre);
  w.exec('ExecStopPost', u.execStopPost);
  w.diff('TimeoutSec', u.timeoutUsec, d.timeoutUsec, formatTimespan);
  if (u.service !== undefined) w.set('Service', pct(u.service));
  w.bool('RemoveOnStop', u.removeOnStop);
  for (const s of u.symlinks) w.set('Symlinks', pct(quoteWord(s)));
  if (u.fileDescriptorName !== undefined) w.set('FileDescriptorName', pct(u.fileDescriptorName));
  w.diff('TriggerLimitIntervalSec', u.triggerLimitIntervalUsec, 2_000_000, formatTimespan);
  w.diff('TriggerLimitBurst', u.triggerLimitBurst, u.accept ? 200 : 20);
  w.diff('PollLimitIntervalSec', u.pollLimitIntervalUsec, 2_000_000, formatTimespan);
  w.diff('PollLimitBurst', u.pollLimitBurst, u.accept ? 150 : 15);
  w.bool('SELinuxContextFromNet', u.selinuxContextFromNet);
  w.bool('PassFileDescriptorsToExec', u.passFileDescriptorsToExec);
  w.bool('X-MPTCPFallback', u.mptcpFallback);
  w.verbatim(u.extra);
  writeInstall(w, u.install);
  return w.text();
}

/** Renders a ServiceUnit as unit-file text. */
export function printServiceUnit(u: ServiceUnit): string {
  const d = defaultServiceUnit(u.name, u.file);
  const w = new Writer();
  writeUnitSection(w, u.unit, d.unit);
  w.section('Service');
  w.set('Type', u.type);
  w.exec('ExecCondition', u.execCondition);
  w.exec('ExecStartPre', u.execStartPre);
  w.exec('ExecStart', u.execStart);
  w.exec('ExecStartPost', u.execStartPost);
  w.exec('ExecReload', u.execReload);
  w.exec('ExecStop', u.execStop);
  w.exec('ExecStopPost', u.execStopPost);
  for (const [k, v] of u.environment) w.set('Environment', pct(quoteWord(`${k}=${v}`)));
  for (const f of u.environmentFiles) w.set('EnvironmentFile', pct(`${f.optional ? '-' : ''}${f.path}`));
  if (u.workingDirectory)
    w.set(
      'WorkingDirectory',
      `${u.workingDirectory.optional ? '-' : ''}${u.workingDirectory.path === '~' ? '~' : pct(u.workingDirectory.path)}`,
    );
  if (u.user !== undefined) w.set('User', pct(u.user));
  if (u.group !== undefined) w.set('Group', pct(u.group));
  for (const g of u.supplementaryGroups) w.set('SupplementaryGroups', pct(g));
  w.diff('Restart', u.restart, d.restart);
  w.diff('RestartSec', u.restartUsec, d.restartUsec, formatTimespan);
  w.set('StandardInput', u.standardInput === d.standardInput ? undefined : pct(u.standardInput));
  const defaultOut = u.standardInput === 'socket' || u.standardInput.startsWith('tty') ? 'inherit' : 'journal';
  w.set('StandardOutput', u.standardOutput === defaultOut ? undefined : pct(u.standardOutput));
  w.set('StandardError', u.standardError === d.standardError ? undefined : pct(u.standardError));
  w.diff('KillSignal', u.killSignal, d.killSignal);
  w.diff('FinalKillSignal', u.finalKillSignal, d.finalKillSignal);
  w.bool('SendSIGKILL', u.sendSIGKILL, true);
  w.diff('KillMode', u.killMode, d.killMode);
  w.diff('TimeoutStopSec', u.timeoutStopUsec, d.timeoutStopUsec, formatTimespan);
  w.diff('TimeoutStartSec', u.timeoutStartUsec, u.type === 'oneshot' ? Infinity : DEFAULT_TIMEOUT_USEC, formatTimespan);
  w.bool('NonBlocking', u.nonBlocking);
  if (u.sockets.length > 0) w.set('Sockets', u.sockets.map(pct).join(' '));
  w.bool('RemainAfterExit', u.remainAfterExit);
  w.set('BusName', u.busName);
  w.set('PAMName', u.pamName);
  w.verbatim(u.extra);
  writeInstall(w, u.install);
  return w.text();
}
