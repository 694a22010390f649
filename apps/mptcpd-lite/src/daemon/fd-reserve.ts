/**
 * The fd table sized once for the listening sockets, before the units are even parsed
 * (@mptcp/native reserveFds(): one kernel resize on a side thread instead of five, each ~10 ms of
 * wall time, while the daemon opens 1,000 sockets). An estimate is enough: one `.socket` file is
 * usually one listening fd; a larger need grows the table as before.
 */
import { readdirSync } from 'node:fs';
import { reserveFds } from '@mptcp/native';

/** What the daemon has open besides the listeners (stdio, epoll, the control socket, libuv's fds…). */
const HEADROOM = 128;

/** Starts growing the fd table for the socket units in `dirs`; a no-op for a few dozen units. */
export function reserveListenerFds(dirs: readonly string[]): void {
  let sockets = 0;
  for (let d = 0; d < dirs.length; d++) {
    let names: string[];
    try {
      names = readdirSync(dirs[d]!);
    } catch {
      continue; // the load reports an unreadable directory
    }
    for (let i = 0; i < names.length; i++) if (names[i]!.endsWith('.socket')) sockets++;
  }
  if (sockets > 0) reserveFds(sockets + HEADROOM);
}
