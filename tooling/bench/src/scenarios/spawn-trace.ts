/**
 * Where an Accept=yes connection's latency goes in the activator, from kernel tracepoints: accept()
 * returning the connection → fork/clone of the service process → its execve(). A private tracefs
 * instance (its own buffer and event switches, removed afterwards) records, while `run` executes:
 * syscalls:sys_exit_accept4 of any of the activator's threads (mptcpd-lite's Accept=yes fast path
 * accepts on its own threads), sched:sched_process_fork by any of them (mptcpd-lite clones on a libuv
 * pool thread or on the accepting thread), sched:sched_process_exec of
 * the service binary and sched:sched_process_exit of its processes. Each exec is paired with the
 * fork that created that pid and with the last accept before that fork (one client at a time: the
 * accept that fork serves); the service's exit closes the connection, after which the client
 * connects again, so exit → next accept closes the cycle of one connection:
 * accept → fork → exec → exit → accept.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

const TRACEFS = '/sys/kernel/tracing';

export interface SpawnLatency {
  /** µs from accept() returning to the fork/clone of the service, per connection. */
  acceptToFork: number[];
  /**
   * Of acceptToFork, the part after the main thread handed the spawn to another thread (its last
   * futex() call before the clone: waking a libuv pool thread); empty for an activator that forks
   * on its main thread.
   */
  handoffToFork: number[];
  /** µs from that fork/clone to the service's execve(). */
  forkToExec: number[];
  /** µs from the service's execve() to its exit (its whole run: loading, the echo, EOF). */
  execToExit: number[];
  /** µs from the service's exit to the activator's next accept (the client sees the close and reconnects). */
  exitToAccept: number[];
}

/** Why tracepoints cannot be used here, or undefined. */
export function traceUnavailable(): string | undefined {
  if (!existsSync(join(TRACEFS, 'instances'))) return `no tracefs at ${TRACEFS} (mount -t tracefs nodev ${TRACEFS})`;
  if (!existsSync(join(TRACEFS, 'events', 'syscalls', 'sys_exit_accept4'))) return 'no syscall tracepoints';
  return undefined;
}

let instances = 0;
const EVENTS = [
  'syscalls/sys_exit_accept4',
  'sched/sched_process_fork',
  'sched/sched_process_exec',
  'sched/sched_process_exit',
  'raw_syscalls/sys_enter',
];
/** futex(2) on x86-64 and arm64's generic table differ: 202 and 98. */
const SYS_FUTEX = process.arch === 'arm64' ? 98 : 202;

/** Runs `run` with the events recorded; `pid` is the activator (its main thread accepts). */
export async function traceSpawns(pid: number, exe: string, run: () => Promise<void>): Promise<SpawnLatency> {
  const dir = join(TRACEFS, 'instances', `bench-spawn-${process.pid}-${instances++}`);
  mkdirSync(dir);
  const set = (file: string, value: string): void => writeFileSync(join(dir, file), value);
  try {
    set('buffer_size_kb', '8192');
    // The threads as they are now: run the activator once before (a thread started later is not seen).
    const threads = readdirSync(`/proc/${pid}/task`);
    set('events/syscalls/sys_exit_accept4/filter', threads.map((t) => `common_pid == ${t}`).join(' || '));
    set('events/sched/sched_process_fork/filter', threads.map((t) => `parent_pid == ${t}`).join(' || '));
    set('events/sched/sched_process_exec/filter', `filename == "${exe}"`);
    // After execve the comm is the binary's name (at most 15 bytes, as the kernel keeps it).
    set('events/sched/sched_process_exit/filter', `comm == "${basename(exe).slice(0, 15)}"`);
    set('events/raw_syscalls/sys_enter/filter', `common_pid == ${pid} && id == ${SYS_FUTEX}`);
    for (const e of EVENTS) set(`events/${e}/enable`, '1');
    set('tracing_on', '1');
    try {
      await run();
    } finally {
      set('tracing_on', '0');
    }
    return parseTrace(readFileSync(join(dir, 'trace'), 'utf8'), pid);
  } finally {
    for (const e of EVENTS) {
      try {
        set(`events/${e}/enable`, '0');
      } catch {
        // Gone with the instance.
      }
    }
    rmdirSync(dir);
  }
}

/**
 * The pairs in a trace's text (exported for tests). `mainPid`: the hand-off to another thread is
 * looked for only after an accept on this thread (an activator that accepts on the thread that
 * forks hands nothing off).
 */
export function parseTrace(text: string, mainPid?: number): SpawnLatency {
  const out: SpawnLatency = { acceptToFork: [], handoffToFork: [], forkToExec: [], execToExit: [], exitToAccept: [] };
  let accepted: number | undefined;
  let acceptedOnMain = true;
  let handoff: number | undefined;
  let exited: number | undefined;
  const forks = new Map<string, { accepted: number; handoff: number | undefined; at: number }>();
  const execs = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /\s(\d+\.\d+):\s+(\w+):?\s(.*)$/.exec(line);
    if (!m) continue;
    const at = Number(m[1]) * 1e6;
    const [, , event, rest = ''] = m;
    const tid = Number(/^\s*.+?-(\d+)\s+\[/.exec(line)?.[1] ?? NaN);
    if (event === 'sys_accept4' || event === 'sys_exit_accept4') {
      // "-> 0x5": a connection; a negative errno (EAGAIN) is 0xffff…
      if (!/-> 0xf{8,}/.test(rest)) {
        accepted = at;
        acceptedOnMain = mainPid === undefined || Number.isNaN(tid) || tid === mainPid;
        handoff = undefined;
        if (exited !== undefined) out.exitToAccept.push(at - exited);
        exited = undefined;
      }
    } else if (event === 'sys_enter') {
      if (accepted !== undefined && acceptedOnMain) handoff = at;
    } else if (event === 'sched_process_fork') {
      const child = /child_pid=(\d+)/.exec(rest)?.[1];
      if (child && accepted !== undefined) forks.set(child, { accepted, handoff, at });
    } else if (event === 'sched_process_exec') {
      const pid = /(?:^| )pid=(\d+)/.exec(rest)?.[1];
      const fork = pid ? forks.get(pid) : undefined;
      if (pid && fork) {
        forks.delete(pid);
        out.acceptToFork.push(fork.at - fork.accepted);
        if (fork.handoff !== undefined) out.handoffToFork.push(fork.at - fork.handoff);
        out.forkToExec.push(at - fork.at);
        execs.set(pid, at);
      }
    } else if (event === 'sched_process_exit') {
      const pid = /(?:^| )pid=(\d+)/.exec(rest)?.[1];
      const exec = pid ? execs.get(pid) : undefined;
      if (pid && exec !== undefined) {
        execs.delete(pid);
        out.execToExit.push(at - exec);
        exited = at;
      }
    }
  }
  return out;
}
