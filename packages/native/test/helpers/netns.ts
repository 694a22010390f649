/** Throw-away network namespaces for tests: uniquely named, always deleted. */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

export const distUrl = new URL('../../dist/index.js', import.meta.url).href;
export const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));

export function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function createNetns(prefix: string): string {
  const name = `${prefix}-${process.pid}-${randomBytes(3).toString('hex')}`;
  sh('ip', ['netns', 'add', name]);
  sh('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  return name;
}

export function deleteNetns(name: string): void {
  try {
    for (const pid of sh('ip', ['netns', 'pids', name]).split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone already
      }
    }
    sh('ip', ['netns', 'del', name]);
  } catch {
    // already deleted
  }
}

/**
 * Runs a fixture script with node inside `ns`; resolves with its stdout (rejects on exit ≠ 0).
 * `onStderr` sees the stderr collected so far each time more arrives (e.g. to wait for "listening").
 */
export function runIn(
  ns: string,
  script: string,
  env: Record<string, string> = {},
  timeoutMs = 20_000,
  onStderr?: (soFar: string) => void,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, fixture(script)], {
      env: { ...process.env, NATIVE_DIST: distUrl, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      onStderr?.(err);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${script} in ${ns} exited ${code}: ${err}`));
    });
  });
}

/** Parses the last JSON line a fixture printed. */
export function lastJson<T>(out: string): T {
  const line = out.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as T;
}
