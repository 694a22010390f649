/** Child processes for the register tests: start, wait for a line, collect output, stop by pid. */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const dist = (file: string): string => fileURLToPath(new URL(`../../dist/${file}`, import.meta.url));
export const registerFixture = (name: string): string =>
  fileURLToPath(new URL(`../fixtures/register/${name}`, import.meta.url));

export interface Proc {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first stdout line matching `re` (rejects if the process exits first). */
  line(re: RegExp): Promise<string>;
  stop(): Promise<void>;
}

/** `passFds`: parent fds given to the child as fd 3, 4, … (LISTEN_FDS style). */
export function start(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, passFds: number[] = []): Proc {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe', ...passFds] });
  let out = '';
  let err = '';
  const waiters: Array<() => void> = [];
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
    waiters.forEach((w) => w());
  });
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', () => waiters.forEach((w) => w()));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    line(re) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const hit = out
            .split('\n')
            .slice(0, -1)
            .find((l) => re.test(l)); // complete lines only
          if (hit !== undefined) resolve(hit);
          else if (child.exitCode !== null || child.signalCode !== null)
            reject(new Error(`exited (${child.exitCode ?? child.signalCode}) before ${String(re)}:\n${out}\n${err}`));
        };
        waiters.push(check);
        check();
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

/** Runs a command to completion: stdout, or rejects with stderr. */
export function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 30_000,
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      { env: { ...process.env, ...env }, timeout: timeoutMs, encoding: 'utf8' },
      (e, stdout, stderr) => {
        if (e) reject(new Error(`${cmd} ${args.join(' ')}: ${e.message}\n${stderr}`));
        else resolve({ stdout, stderr });
      },
    );
  });
}

/** Ports of the MPTCP listeners `ss -M` shows (-t adds the TCP table: keep netid 'mptcp'). */
export function mptcpListeners(): number[] {
  return execFileSync('ss', ['-MltnH'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[0] === 'mptcp')
    .map((f) => Number(/:(\d+)$/.exec(f[4] ?? '')?.[1]))
    .filter((p) => p > 0);
}

/** Whether a command exists on PATH. */
export function have(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
