/**
 * `mknodat(2)` for the nodes Node cannot create: FIFOs (ListenFIFO=, test fixtures) and, as root,
 * device nodes. The permission bits are applied exactly: the addon creates the node on a thread
 * with its own umask of 0, so there is neither a chmod window nor a process-wide umask change.
 */
import { binding, sysconst } from './binding.js';
import { check } from './errors.js';

/** What to create: the file type bits of the mode. */
export type NodeType = 'fifo' | 'regular' | 'socket' | 'char' | 'block';

const TYPE_CONSTANT: Record<NodeType, string> = {
  fifo: 'S_IFIFO',
  regular: 'S_IFREG',
  socket: 'S_IFSOCK',
  char: 'S_IFCHR',
  block: 'S_IFBLK',
};

export interface MknodOptions {
  /** Permission bits (and setuid/setgid/sticky), applied without the umask. Default 0o600. */
  mode?: number;
  /** Resolve a relative `path` against this directory fd instead of the working directory. */
  dirfd?: number;
  /** Device number (major << 8 | minor, the kernel's old encoding up to 4095:255) for char/block. */
  dev?: number;
}

/**
 * `mknodat(dirfd, path, type | mode, dev)`. Throws an MptcpSocketError with syscall `mknodat` and
 * the errno name (`EEXIST` when the path exists: nothing is replaced).
 */
export function mknod(path: string, type: NodeType, options: MknodOptions = {}): void {
  const mode = options.mode ?? 0o600;
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777)
    throw new TypeError(`mknod: mode must be 0…0o7777, got ${mode}`);
  const typeBits = sysconst(TYPE_CONSTANT[type]);
  check(binding().mknodat(options.dirfd ?? sysconst('AT_FDCWD'), path, typeBits | mode, options.dev ?? 0), {
    syscall: 'mknodat',
    address: path,
  });
}

/** `mkfifo(path, mode)` with the mode applied exactly (default 0o600). Throws EEXIST when `path` exists. */
export function mkfifo(path: string, mode = 0o600, options: Omit<MknodOptions, 'mode' | 'dev'> = {}): void {
  mknod(path, 'fifo', { ...options, mode });
}
