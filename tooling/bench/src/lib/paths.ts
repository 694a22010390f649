/** Where things are: this package, the repository, the results directory. */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** tooling/bench (this file is dist/lib/paths.js or src/lib/paths.ts). */
export const BENCH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const REPO_DIR = resolve(BENCH_DIR, '..', '..');
export const LAB_SH = join(REPO_DIR, 'tooling', 'netlab', 'lab.sh');
export const WORKERS_DIR = join(BENCH_DIR, 'dist', 'workers');
export const DAEMON_CLI = join(REPO_DIR, 'apps', 'mptcpd-lite', 'dist', 'cli.js');

export function worker(name: string): string {
  return join(WORKERS_DIR, `${name}.js`);
}
