import { errnoMessage, isErrnoName } from '@mptcp/constants';

/** The errno names the parsers return; their strerror() text (what systemd prints for `%m`) is @mptcp/constants'. */
const ERRNOS = [
  'EINVAL',
  'ERANGE',
  'ENAMETOOLONG',
  'ENODEV',
  'EBADSLT',
  'ENOBUFS',
  'EBADMSG',
  'EPROTONOSUPPORT',
  'EAFNOSUPPORT',
  'ENOENT',
  'EACCES',
  'ENOEXEC',
  'EPERM',
  'EPROTO',
  'ENXIO',
  'EIO',
  'ENOTDIR',
  'EISDIR',
  'ELOOP',
  'ERFKILL',
  'ENOMEM',
  'ESHUTDOWN',
  'EILSEQ',
] as const;

export type Errno = (typeof ERRNOS)[number];

/** glibc's strerror() text of each errno name the parsers return. */
export const STRERROR: Readonly<Record<Errno, string>> = Object.freeze(
  Object.fromEntries(ERRNOS.map((e) => [e, errnoMessage(e)])) as Record<Errno, string>,
);

/** strerror() for an errno name; unknown names are returned as they are. */
export function strerror(code: string): string {
  return isErrnoName(code) ? errnoMessage(code) : code;
}

/** A parser result: a value, or an errno name. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; error: Errno };

export const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
export const fail = <T = never>(error: Errno): Parsed<T> => ({ ok: false, error });
