/** Where things are in the repository (this file is tooling/testkit/{src,dist}/paths.*). */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const TESTKIT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_DIR = resolve(TESTKIT_DIR, '..', '..');
/** The two-path MPTCP lab script. */
export const LAB_SH = join(REPO_DIR, 'tooling', 'netlab', 'lab.sh');
/** The built daemon CLI (apps/mptcpd-lite): its bin, dist/cli.cjs (dist/cli.js is the same CLI as an ES module). */
export const DAEMON_CLI = join(REPO_DIR, 'apps', 'mptcpd-lite', 'dist', 'cli.cjs');
