/**
 * One app, restarted on demand on the same listening sockets: stop the running generation
 * (SIGTERM to its process group, SIGKILL after a timeout), start the next with the same fds as
 * LISTEN_FDS, report when it waits on a socket. Restarts never overlap, and a change that comes
 * in while the next generation is not started yet needs no extra restart (it reads the new files).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import {
  type ExitStatus,
  type NativeApi,
  type ServiceChild,
  commandOf,
  execCommand,
  listenFdNames,
  statusOf,
} from '@mptcp/activation';
import { killProcessGroup } from '@mptcp/native';
import { groupMembers, inGroup } from './process-group.js';
import { waitForListener } from './readiness.js';
import type { DevSocket } from './sockets.js';

export interface SupervisorOptions {
  command: readonly string[];
  sockets: readonly DevSocket[];
  /** LISTEN_FDNAMES: one name per socket, or one for all. */
  fdnames?: readonly string[];
  /** The app's environment before LISTEN_* is added (default process.env). */
  env?: NodeJS.ProcessEnv;
  cwd: string;
  /** SIGTERM → SIGKILL delay. */
  stopTimeoutMs: number;
  /** A failing app ends `dev` with its status instead of waiting for the next change. */
  exitOnCrash: boolean;
  native: NativeApi;
  /** One line of our own output (the app's goes straight to our stdout/stderr). */
  log: (line: string) => void;
  /** After this long without the app waiting on a socket, say once what may be wrong. */
  listenHintMs?: number;
}

interface Generation {
  child: ServiceChild;
  pid: number;
  stopping: boolean;
  exited: boolean;
  /** Aborted when the generation exits or is being stopped: ends the readiness watch. */
  watch: AbortController;
}

function describeExit(status: ExitStatus): string {
  return status.signal !== null ? `killed by ${status.signal}` : `exit code ${status.code ?? '?'}`;
}

/** The shell's view of an exit: the code, or 128 + the signal number. */
export function shellStatus(status: ExitStatus): number {
  return statusOf(status.code, status.signal);
}

/**
 * `app.mjs`, or `app.mjs and 2 more`, relative to `cwd`. A path that still exists is named first:
 * editors and sed write a temporary file and rename it over the real one.
 */
export function describeChanges(paths: readonly string[], cwd: string): string {
  const named = paths.find((p) => existsSync(p)) ?? paths[0] ?? cwd;
  const first = path.relative(cwd, named) || '.';
  return paths.length > 1 ? `${first} and ${paths.length - 1} more` : first;
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves with `promise`'s value, or 'timeout' after `ms` (the timer does not outlive the race). */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export class Supervisor {
  /** Resolves with dev's exit status: the app's own exit, or 128 + signal after shutdown(). */
  readonly finished: Promise<number>;
  private finish!: (status: number) => void;
  private current: Generation | undefined;
  private busy = false;
  /** Set once the restart in progress has started its new generation. */
  private spawnedInRestart = false;
  private queued: string[] | undefined;
  private shuttingDown = false;
  private readonly inodes: ReadonlySet<number>;
  /** The launch in progress (or done): shutdown waits for it, so no generation escapes. */
  private spawning: Promise<void> = Promise.resolve();
  private readonly env: Record<string, string>;

  constructor(private readonly options: SupervisorOptions) {
    this.finished = new Promise((resolve) => (this.finish = resolve));
    this.inodes = new Set(options.sockets.map((s) => s.inode));
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(options.env ?? process.env)) if (v !== undefined) env[k] = v;
    // Ours to set; a NOTIFY_SOCKET meant for dev itself must not reach the app.
    for (const k of ['LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES', 'NOTIFY_SOCKET']) delete env[k];
    const n = options.sockets.length;
    env.LISTEN_FDS = String(n);
    const names = listenFdNames(options.fdnames ?? [], n);
    if (names !== undefined) env.LISTEN_FDNAMES = names;
    this.env = env;
  }

  /** Starts the first generation. */
  start(): void {
    void this.spawn(performance.now());
  }

  /** Files changed (a debounced batch): restart, or start again after a crash. */
  changed(paths: readonly string[]): void {
    if (this.shuttingDown || paths.length === 0) return;
    if (this.busy) {
      // Before the new generation starts, it will read the new files anyway.
      if (this.spawnedInRestart) this.queued = [...(this.queued ?? []), ...paths];
      return;
    }
    void this.restart(paths);
  }

  /** Stops the app (a second call kills its group at once), then resolves `finished` with 128 + signal. */
  async shutdown(signal: NodeJS.Signals): Promise<void> {
    if (this.shuttingDown) {
      const gen = this.current;
      if (gen && !gen.exited) killProcessGroup(gen.pid, 'SIGKILL');
      return;
    }
    this.shuttingDown = true;
    // A generation being started is stopped as soon as it exists.
    await this.spawning;
    const latest = this.current;
    if (latest) await this.stop(latest);
    this.finish(statusOf(null, signal));
  }

  /** The PID of the running generation. */
  get pid(): number | undefined {
    return this.current && !this.current.exited ? this.current.pid : undefined;
  }

  private async restart(paths: readonly string[]): Promise<void> {
    this.busy = true;
    this.spawnedInRestart = false;
    const t0 = performance.now();
    this.options.log(`restarting (changed: ${describeChanges(paths, this.options.cwd)})`);
    try {
      const gen = this.current;
      if (gen) await this.stop(gen);
      if (this.shuttingDown) return;
      this.spawnedInRestart = true;
      await this.spawn(t0);
    } finally {
      this.busy = false;
    }
    const next = this.queued;
    this.queued = undefined;
    if (next && !this.shuttingDown) await this.restart(next);
  }

  private spawn(t0: number): Promise<void> {
    this.spawning = this.launch(t0);
    return this.spawning;
  }

  private async launch(t0: number): Promise<void> {
    const o = this.options;
    // O_NONBLOCK lives on the shared file description: every generation gets it as the first did.
    for (const s of o.sockets) o.native.setNonBlocking(s.fd, false);
    const child = execCommand({
      command: commandOf(o.command),
      env: this.env,
      fds: o.sockets.map((s) => s.fd),
      stdin: 'inherit',
      output: 'inherit',
      cwd: o.cwd,
      execPid: false,
      // Own session and process group: Ctrl-C reaches dev only, and a stop reaches all of the app.
      detached: true,
      ...(o.native.spawn ? { native: o.native.spawn } : {}),
    });
    // The launcher may spawn off the event loop: the PID is known once `spawned` resolves.
    const error = await child.spawned;
    if (error !== undefined || child.pid === undefined) {
      const status = await child.exited;
      o.log(`cannot start ${o.command[0] ?? ''}: ${error?.message ?? status.error?.message ?? describeExit(status)}`);
      this.current = undefined;
      this.finish(shellStatus(status));
      return;
    }
    const gen: Generation = { child, pid: child.pid, stopping: false, exited: false, watch: new AbortController() };
    this.current = gen;
    const hint = setTimeout(() => {
      const fds = o.sockets.map((_, i) => 3 + i).join(', ');
      o.log(
        `pid ${gen.pid} does not wait on fd ${fds} yet: does it take its sockets from LISTEN_FDS (listenFds()), or run with --import @mptcp/native/register?`,
      );
    }, o.listenHintMs ?? 5000);
    hint.unref();
    void waitForListener(gen.pid, this.inodes, gen.watch.signal).then((at) => {
      clearTimeout(hint);
      if (at !== undefined && !gen.stopping) o.log(`ready in ${Math.round(at - t0)} ms (pid ${gen.pid})`);
    });
    void child.exited.then((status) => {
      gen.exited = true;
      gen.watch.abort();
      clearTimeout(hint);
      if (gen.stopping || this.current !== gen) return;
      this.current = undefined;
      // It ended on its own: what it started in its group must not go on accepting with old code.
      const left = groupMembers(gen.pid);
      if (left.length > 0) {
        o.log(`stopping what pid ${gen.pid} left running: ${left.join(', ')}`);
        for (const pid of left) {
          try {
            process.kill(pid, 'SIGTERM');
          } catch {
            // gone meanwhile
          }
        }
      }
      if (this.shuttingDown) return;
      if (status.code === 0 && status.signal === null) {
        o.log(`app exited (exit code 0)`);
        this.finish(0);
      } else if (o.exitOnCrash) {
        o.log(`app exited (${describeExit(status)})`);
        this.finish(shellStatus(status));
      } else {
        o.log(`app crashed (${describeExit(status)}); waiting for a change to restart`);
      }
    });
  }

  /** SIGTERM to the group, SIGKILL after the timeout; resolves when the app and its group are gone. */
  private async stop(gen: Generation): Promise<void> {
    const o = this.options;
    gen.stopping = true;
    gen.watch.abort();
    const deadline = performance.now() + o.stopTimeoutMs;
    if (!gen.exited && !killProcessGroup(gen.pid, 'SIGTERM')) gen.child.kill('SIGTERM');
    // Who is in the group: only these are waited for and killed later (once the leader is reaped, its
    // PID — and so a process group of that number — can be someone else's). Taken after the signal (a
    // scan of /proc costs tens of ms) but before this loop can reap the leader.
    const members = gen.exited ? [] : groupMembers(gen.pid);
    if (!gen.exited) {
      const r = await within(gen.child.exited, o.stopTimeoutMs);
      if (r === 'timeout' && !gen.exited) {
        o.log(`pid ${gen.pid} did not stop within ${o.stopTimeoutMs} ms after SIGTERM: SIGKILL`);
        if (!killProcessGroup(gen.pid, 'SIGKILL')) gen.child.kill('SIGKILL');
        await gen.child.exited;
      }
    }
    // What the app started in its group got SIGTERM too; none may outlive it on the shared socket.
    const remaining = (): number[] => members.filter((pid) => pid !== gen.pid && inGroup(pid, gen.pid));
    let left = remaining();
    while (left.length > 0 && performance.now() < deadline) {
      await delay(20);
      left = remaining();
    }
    if (left.length > 0) {
      o.log(`killing what pid ${gen.pid} left running: ${left.join(', ')}`);
      for (const pid of left) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
    }
    if (this.current === gen) this.current = undefined;
  }
}
