#!/usr/bin/env node
// Sequential spawn rate of /bin/true: Node's child_process.spawn vs spawnProcess (clone(CLONE_VM|
// CLONE_VFORK) + execve in the addon), each start awaited until the child is reaped.
//   node scripts/spawn-rate.mjs [N] [runs]     (after `pnpm --filter @mptcp/native build`)
// Prints spawns/s per method, median of `runs` runs.
import { spawn } from 'node:child_process';
import { close, spawnProcess, watchExit } from '../dist/index.js';

const n = Number(process.argv[2] ?? 2000);
const runs = Number(process.argv[3] ?? 5);

const nodeOnce = () =>
  new Promise((resolve, reject) => {
    const c = spawn('/bin/true', [], { stdio: 'ignore', env: {} });
    c.once('error', reject);
    c.once('exit', resolve);
  });

const nativeOnce = () =>
  new Promise((resolve) => {
    const c = spawnProcess({ file: '/bin/true', argv: ['/bin/true'], envp: [], fds: [-1, -1, -1] });
    watchExit(c.pidfd, (exit) => {
      close(c.pidfd);
      resolve(exit);
    });
  });

async function rate(once) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await once();
  return n / (Number(process.hrtime.bigint() - t0) / 1e9);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = { node: [], native: [] };
for (let r = 0; r < runs; r++) {
  results.node.push(await rate(nodeOnce));
  results.native.push(await rate(nativeOnce));
}
const rss = Math.round(process.memoryUsage().rss / 2 ** 20);
for (const [name, xs] of Object.entries(results)) {
  console.log(
    `${name.padEnd(6)} ${median(xs).toFixed(0)} spawns/s (median of ${runs} × ${n}; runs: ${xs.map((x) => x.toFixed(0)).join(' ')}; parent RSS ${rss} MiB)`,
  );
}
