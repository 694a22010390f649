/** The errno names the parsers return, and glibc's strerror() text for them (what systemd prints for `%m`). */
export const STRERROR = {
  EINVAL: 'Invalid argument',
  ERANGE: 'Numerical result out of range',
  ENAMETOOLONG: 'File name too long',
  ENODEV: 'No such device',
  EBADSLT: 'Invalid slot',
  ENOBUFS: 'No buffer space available',
  EBADMSG: 'Bad message',
  EPROTONOSUPPORT: 'Protocol not supported',
  EAFNOSUPPORT: 'Address family not supported by protocol',
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  ENOEXEC: 'Exec format error',
  EPERM: 'Operation not permitted',
  EPROTO: 'Protocol error',
  ENXIO: 'No such device or address',
  EIO: 'Input/output error',
  ENOTDIR: 'Not a directory',
  EISDIR: 'Is a directory',
  ELOOP: 'Too many levels of symbolic links',
  ERFKILL: 'Operation not possible due to RF-kill',
  ENOMEM: 'Cannot allocate memory',
  ESHUTDOWN: 'Cannot send after transport endpoint shutdown',
} as const;

export type Errno = keyof typeof STRERROR;

/** strerror() for an errno name; unknown names are returned as they are. */
export function strerror(code: string): string {
  return Object.prototype.hasOwnProperty.call(STRERROR, code) ? STRERROR[code as Errno] : code;
}

/** A parser result: a value, or an errno name. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; error: Errno };

export const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
export const fail = <T = never>(error: Errno): Parsed<T> => ({ ok: false, error });
