/** Values written back to unit-file text: Listen*= addresses, Exec*= command lines, `%` escaping. */
import { VMADDR_CID_ANY } from './address.js';
import type { ExecCommand, ListenEntry } from './model.js';
import { quoteWord } from './quoting.js';

/** `%` must be doubled in values that go through specifier expansion. */
export const pct = (s: string): string => s.replace(/%/g, '%%');

export const LISTEN_KEYS: Readonly<Record<ListenEntry['kind'], string>> = {
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

export function execLine(c: ExecCommand): string {
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
