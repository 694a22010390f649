/**
 * "The new process is ready" = it waits for connections on one of the passed listening sockets, seen
 * from outside, without any help from the app:
 * - an epoll instance of the process (or a descendant) has the socket registered for EPOLLIN —
 *   /proc/PID/fdinfo/EPFD lists `tfd: N events: HEX … ino:HEX` per registered file (Node/libuv,
 *   Go, Python asyncio, Rust mio, Java NIO all poll their listeners with epoll); or
 * - a thread blocks in accept()/accept4() on it (/proc/PID/task/TID/syscall: number and arguments).
 * The socket is matched by inode, so an app that dup()s the fd elsewhere is still recognised.
 * Nothing notifies a third process of an epoll_ctl(), so this is sampled: every few ms at first,
 * less often while the app takes long to boot.
 */
import { fstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';

const EPOLLIN = 0x1;

/** accept(2)/accept4(2) syscall numbers of the architectures Node runs on. */
const ACCEPT_SYSCALLS: Readonly<Partial<Record<NodeJS.Architecture, readonly number[]>>> = {
  x64: [43, 288],
  arm64: [202, 242],
  riscv64: [202, 242],
  loong64: [202, 242],
  ia32: [102, 364],
  arm: [285, 366],
};

/** The inode of a socket fd of this process (what /proc shows as `socket:[INODE]`). */
export function socketInode(fd: number): number {
  return fstatSync(fd).ino;
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** The process and its descendants (via /proc/PID/task/TID/children). */
export function processTree(root: number): number[] {
  const out: number[] = [];
  const queue = [root];
  const seen = new Set<number>();
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    if (seen.has(pid)) continue;
    seen.add(pid);
    out.push(pid);
    for (const tid of listDir(`/proc/${pid}/task`)) {
      const children = readText(`/proc/${pid}/task/${tid}/children`);
      if (children === undefined) continue;
      for (const c of children.trim().split(/\s+/)) if (/^\d+$/.test(c)) queue.push(Number(c));
    }
  }
  return out;
}

/** Whether `pid` polls (epoll, EPOLLIN) or blocks in accept on a socket with one of `inodes`. */
export function waitsOnSocket(pid: number, inodes: ReadonlySet<number>): boolean {
  const fdInode = new Map<number, number>();
  const epolls: string[] = [];
  for (const fd of listDir(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    const socket = /^socket:\[(\d+)\]$/.exec(target);
    if (socket) fdInode.set(Number(fd), Number(socket[1]));
    else if (target === 'anon_inode:[eventpoll]') epolls.push(fd);
  }
  if (![...fdInode.values()].some((ino) => inodes.has(ino))) return false;
  for (const ep of epolls) {
    const info = readText(`/proc/${pid}/fdinfo/${ep}`);
    if (info === undefined) continue;
    for (const line of info.split('\n')) {
      const m = /^tfd:\s*(\d+)\s+events:\s*([0-9a-f]+)/.exec(line);
      if (!m) continue;
      if ((parseInt(m[2] as string, 16) & EPOLLIN) === 0) continue;
      // `ino:` names the registered file itself; older kernels only give the fd number at registration.
      const inoHex = /\bino:([0-9a-f]+)/.exec(line)?.[1];
      const ino = inoHex !== undefined ? parseInt(inoHex, 16) : fdInode.get(Number(m[1]));
      if (ino !== undefined && inodes.has(ino)) return true;
    }
  }
  const accepts = ACCEPT_SYSCALLS[process.arch];
  if (accepts) {
    for (const tid of listDir(`/proc/${pid}/task`)) {
      const sc = readText(`/proc/${pid}/task/${tid}/syscall`)?.trim().split(/\s+/);
      if (!sc || !/^\d+$/.test(sc[0] ?? '') || !accepts.includes(Number(sc[0]))) continue;
      const ino = fdInode.get(parseInt(sc[1] ?? '', 16));
      if (ino !== undefined && inodes.has(ino)) return true;
    }
  }
  return false;
}

/** Whether any process of the tree rooted at `root` waits on one of the sockets. */
export function treeWaitsOnSocket(root: number, inodes: ReadonlySet<number>): boolean {
  return processTree(root).some((pid) => waitsOnSocket(pid, inodes));
}

/**
 * Resolves with the time (performance.now()) at which the tree of `pid` was first seen waiting on
 * one of the sockets, or undefined when `signal` aborts first (the process exited, or was stopped).
 */
export function waitForListener(
  pid: number,
  inodes: ReadonlySet<number>,
  signal: AbortSignal,
): Promise<number | undefined> {
  const started = performance.now();
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      if (timer) clearTimeout(timer);
      resolve(undefined);
    };
    const sample = (): void => {
      timer = undefined;
      if (signal.aborted) return;
      if (treeWaitsOnSocket(pid, inodes)) {
        signal.removeEventListener('abort', onAbort);
        resolve(performance.now());
        return;
      }
      const elapsed = performance.now() - started;
      timer = setTimeout(sample, elapsed < 2000 ? 5 : elapsed < 10_000 ? 25 : 100);
    };
    if (signal.aborted) return resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    sample();
  });
}
