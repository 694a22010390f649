/** Where things are: this package, the repository (from @mptcp/testkit), the workers. */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export { DAEMON_CLI, LAB_SH, REPO_DIR } from '@mptcp/testkit/paths';

/** tooling/bench (this file is dist/lib/paths.js or src/lib/paths.ts). */
export const BENCH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const WORKERS_DIR = join(BENCH_DIR, 'dist', 'workers');

export function worker(name: string): string {
  return join(WORKERS_DIR, `${name}.js`);
}
