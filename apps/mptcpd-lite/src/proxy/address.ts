/** Addresses as systemd-socket-proxyd and `--listen` take them: HOST:PORT, [V6]:PORT, PORT, /path, @abstract. */
import { isIP } from 'node:net';

export type ProxyAddress = { kind: 'inet'; host: string; port: number } | { kind: 'unix'; path: string };

/** Parses a backend or listen address; `defaultHost` fills a bare port. Throws a message naming the forms. */
export function parseProxyAddress(text: string, defaultHost?: string): ProxyAddress {
  if (text.startsWith('/') || text.startsWith('@') || text.startsWith('./')) {
    // Node spells abstract AF_UNIX names with a leading NUL.
    return { kind: 'unix', path: text.startsWith('@') ? `\0${text.slice(1)}` : text };
  }
  const bare = defaultHost !== undefined && /^\d{1,5}$/.test(text);
  const m = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(text);
  const port = Number(bare ? text : m?.[3]);
  const host = bare ? (defaultHost ?? '') : (m?.[1] ?? m?.[2] ?? '');
  if ((!bare && !m) || port > 65535 || host === '' || (m?.[1] !== undefined && isIP(host) !== 6)) {
    throw new Error(
      `invalid address "${text}": expected HOST:PORT, [IPV6]:PORT${defaultHost !== undefined ? ', PORT' : ''}, /path/to/socket or @abstract`,
    );
  }
  return { kind: 'inet', host, port };
}

export function formatProxyAddress(a: ProxyAddress): string {
  if (a.kind === 'unix') return a.path.startsWith('\0') ? `@${a.path.slice(1)}` : a.path;
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
