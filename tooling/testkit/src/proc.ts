/** Child processes: spawn, wait for a line, read RSS and fd counts from /proc, stop by pid. */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { once } from 'node:events';

export interface Running {
  child: ChildProcess;
  pid: number;
  stdout: string[];
  stderr: string[];
  /** Resolves with the first line (stdout or stderr) matching `re`; rejects on exit or timeout. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

export function start(cmd: string, args: readonly string[], opts: SpawnOptions = {}): Running {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const waiters: Array<{ re: RegExp; resolve: (l: string) => void }> = [];
  let done = false;
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, sig) => {
      done = true;
      resolve(code ?? sig ?? -1);
    });
    child.on('error', () => {
      done = true;
      resolve(-1);
    });
  });
  const feed = (into: string[]) => {
    let buf = '';
    return (chunk: Buffer): void => {
      buf += chunk.toString('utf8');
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        into.push(line);
        for (let w = waiters.length - 1; w >= 0; w--) {
          const waiter = waiters[w]!;
          if (waiter.re.test(line)) {
            waiters.splice(w, 1);
            waiter.resolve(line);
          }
        }
      }
    };
  };
  child.stdout?.on('data', feed(stdout));
  child.stderr?.on('data', feed(stderr));
  const running: Running = {
    child,
    pid: child.pid ?? -1,
    stdout,
    stderr,
    exited,
    waitFor(re, timeoutMs = 10_000) {
      const seen = [...stdout, ...stderr].find((l) => re.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(
            new Error(
              `${cmd}: no line matching ${String(re)} within ${timeoutMs} ms; stderr: ${stderr.slice(-5).join(' | ')}`,
            ),
          );
        }, timeoutMs);
        waiters.push({
          re,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
        void exited.then((code) => {
          clearTimeout(timer);
          reject(
            new Error(`${cmd} exited (${code}) before printing ${String(re)}; stderr: ${stderr.slice(-5).join(' | ')}`),
          );
        });
      });
    },
    async stop(signal = 'SIGTERM', graceMs = 3000) {
      if (done || running.pid < 0) return;
      try {
        process.kill(running.pid, signal);
      } catch {
        return;
      }
      const timer = setTimeout(() => {
        try {
          if (!done) process.kill(running.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }, graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  return running;
}

/** Run to completion; resolves with stdout, rejects with stderr on a non-zero exit. */
export async function run(
  cmd: string,
  args: readonly string[],
  opts: SpawnOptions & { timeoutMs?: number } = {},
): Promise<string> {
  const r = start(cmd, args, opts);
  const timer = setTimeout(() => void r.stop('SIGKILL'), opts.timeoutMs ?? 120_000);
  const code = await r.exited;
  clearTimeout(timer);
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${code}: ${r.stderr.slice(-10).join('\n')}`);
  return r.stdout.join('\n');
}

/** Resident set size of a process in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

/** CPU time (user + system) a process has used so far, in seconds. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // fields after the parenthesised command name; utime and stime are fields 14 and 15
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // USER_HZ is 100 on Linux
}

/** Number of open fds of a process. */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Direct children of a process (from /proc/PID/task/*\/children). */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Wait for the first of an event or a timeout. */
export async function onceWithin<T>(emitter: NodeJS.EventEmitter, event: string, ms: number): Promise<T[]> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  try {
    return (await once(emitter, event, { signal: ac.signal })) as T[];
  } finally {
    clearTimeout(timer);
  }
}
