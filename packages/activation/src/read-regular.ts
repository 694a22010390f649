/**
 * Reading a configuration file without letting it stall the daemon: opened O_NONBLOCK (a FIFO opens
 * at once instead of waiting for a writer), only regular files (and symlinks to them) are read, and
 * no more than systemd's READ_FULL_BYTES_MAX. A FIFO, /dev/zero or a 4 GB file fails with the
 * file named, and the unit that asked for it fails alone.
 */
import { closeSync, constants as fsc, fstatSync, openSync, readSync } from 'node:fs';

/** systemd's READ_FULL_BYTES_MAX (fileio.c): 64 MiB − 1. */
export const READ_FULL_BYTES_MAX = 64 * 1024 * 1024 - 1;

function fileError(path: string, code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${path}: ${message}`), { code, path });
}

function kindOf(st: {
  isDirectory(): boolean;
  isFIFO(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isSocket(): boolean;
}): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** The whole file, or an error whose `code` is the errno name (EISDIR, EBADFD, EFBIG, ENOENT, …). */
export function readRegularFile(path: string, maxBytes = READ_FULL_BYTES_MAX): Buffer {
  const fd = openSync(path, fsc.O_RDONLY | fsc.O_NONBLOCK | fsc.O_NOCTTY);
  try {
    const st = fstatSync(fd);
    if (!st.isFile())
      throw fileError(
        path,
        st.isDirectory() ? 'EISDIR' : 'EBADFD',
        `${kindOf(st)}, not a regular file; refusing to read it`,
      );
    if (st.size > maxBytes)
      throw fileError(path, 'EFBIG', `${st.size} bytes, more than the ${maxBytes} bytes a configuration file may have`);
    const chunks: Buffer[] = [];
    let total = 0;
    // The size may change while we read: read to EOF, but never past the cap.
    for (;;) {
      const buf = Buffer.allocUnsafe(Math.min(Math.max(st.size - total, 0) + 1, maxBytes + 1 - total, 1 << 20) || 1);
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      chunks.push(n === buf.length ? buf : buf.subarray(0, n));
      total += n;
      if (total > maxBytes)
        throw fileError(path, 'EFBIG', `more than the ${maxBytes} bytes a configuration file may have`);
    }
    return Buffer.concat(chunks, total);
  } finally {
    closeSync(fd);
  }
}
