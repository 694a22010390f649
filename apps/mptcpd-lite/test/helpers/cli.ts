/** Drives the real binary: `node dist/cli.js …`, one-shot or long-running. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const APP_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = path.join(APP_ROOT, 'dist', 'cli.js');
export const HELPERS = path.join(APP_ROOT, 'test', 'helpers');

if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npx -y pnpm@10 --filter mptcpd-lite build)`);

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Run inside this network namespace (ip netns exec). */
  netns?: string;
}

/** `node dist/cli.js ARGS` as an argv, to run behind a wrapper (sh -c, setpriv, ip netns exec…). */
export function cliArgv(args: readonly string[]): string[] {
  return [process.execPath, CLI, ...args];
}

function argvFor(args: string[], netns?: string): [string, string[]] {
  const [node, ...rest] = cliArgv(args) as [string, ...string[]];
  return netns ? ['ip', ['netns', 'exec', netns, node, ...rest]] : [node, rest];
}

export function runCli(args: string[], opts: RunOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const [cmd, argv] = argvFor(args, opts.netns);
    const child = spawn(cmd, argv, { env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `mptcpd-lite ${args.join(' ')}: no exit within ${opts.timeoutMs ?? 15000} ms\nstdout: ${stdout}\nstderr: ${stderr}`,
        ),
      );
    }, opts.timeoutMs ?? 15000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

/** A long-running process with line waiting on stdout+stderr. */
export interface Running {
  child: ChildProcess;
  lines: string[];
  stdout(): string;
  stderr(): string;
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): void;
}

export function startProcess(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; stdin?: 'ignore' | 'pipe' } = {},
): Running {
  const child = spawn(cmd, args, {
    env: { ...process.env, ...opts.env },
    stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let out = '';
  let err = '';
  const waiters: Array<{ re: RegExp; resolve: (l: string) => void }> = [];
  const feed = (which: 'out' | 'err') => {
    let buf = '';
    return (d: Buffer): void => {
      const s = d.toString();
      if (which === 'out') out += s;
      else err += s;
      buf += s;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines.push(line);
        for (let w = waiters.length - 1; w >= 0; w--) {
          const waiter = waiters[w];
          if (waiter && waiter.re.test(line)) {
            waiters.splice(w, 1);
            waiter.resolve(line);
          }
        }
      }
    };
  };
  child.stdout?.on('data', feed('out'));
  child.stderr?.on('data', feed('err'));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    lines,
    stdout: () => out,
    stderr: () => err,
    exited,
    kill: (signal = 'SIGTERM') => void child.kill(signal),
    waitFor(re, timeoutMs = 10000) {
      const seen = lines.find((l) => re.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const t = setTimeout(
          () =>
            reject(new Error(`no line matching ${String(re)} within ${timeoutMs} ms; output:\n${lines.join('\n')}`)),
          timeoutMs,
        );
        waiters.push({
          re,
          resolve: (l) => {
            clearTimeout(t);
            resolve(l);
          },
        });
      });
    },
  };
}

/** `mptcpd-lite ARGS`, long-running; with `netns`, inside that network namespace (ip netns exec). */
export function startCli(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; stdin?: 'ignore' | 'pipe'; netns?: string } = {},
): Running {
  const [cmd, argv] = argvFor(args, opts.netns);
  return startProcess(cmd, argv, opts);
}

/** Stops a process and waits for it (SIGKILL after graceMs). */
export async function stopProcess(
  r: Running,
  signal: NodeJS.Signals = 'SIGTERM',
  graceMs = 5000,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (r.child.exitCode !== null || r.child.signalCode !== null) return r.exited;
  r.kill(signal);
  const t = setTimeout(() => r.kill('SIGKILL'), graceMs);
  const res = await r.exited;
  clearTimeout(t);
  return res;
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
