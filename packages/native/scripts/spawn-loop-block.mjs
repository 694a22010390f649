#!/usr/bin/env node
// How long one spawn keeps the event loop busy: spawnProcess (clone/exec on the loop's thread,
// vfork semantics) vs spawnProcessAsync (on a libuv pool thread). /bin/true with 30 environment
// variables and LISTEN_PID, each start awaited and reaped.
//   node scripts/spawn-loop-block.mjs [N] [runs]     (after `pnpm --filter @mptcp/native build`)
// Prints, per method, the median over `runs` of: µs the call itself blocked the loop, ms per spawn.
import { close, spawnProcess, spawnProcessAsync, watchExit } from '../dist/index.js';

const n = Number(process.argv[2] ?? 300);
const runs = Number(process.argv[3] ?? 5);
const envp = Array.from({ length: 30 }, (_, i) => `VAR_${i}=${'x'.repeat(40)}`);
const options = { file: '/bin/true', argv: ['true'], envp, fds: [-1, -1, -1], pidEnv: ['LISTEN_PID'] };
const reaped = (c) => new Promise((resolve) => watchExit(c.pidfd, () => (close(c.pidfd), resolve())));

async function once(mode) {
  let blockedUs = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const c0 = performance.now();
    if (mode === 'spawnProcess') {
      const c = spawnProcess(options);
      blockedUs += (performance.now() - c0) * 1000;
      await reaped(c);
    } else {
      const p = spawnProcessAsync(options);
      blockedUs += (performance.now() - c0) * 1000;
      await reaped(await p);
    }
  }
  return { blockedUs: blockedUs / n, msPerSpawn: (performance.now() - t0) / n };
}

const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
for (const mode of ['spawnProcess', 'spawnProcessAsync']) {
  const r = [];
  for (let i = 0; i < runs; i++) r.push(await once(i % 2 ? mode : mode));
  console.log(
    `${mode.padEnd(18)} loop blocked ${median(r.map((x) => x.blockedUs)).toFixed(0)} µs per spawn, ${median(r.map((x) => x.msPerSpawn)).toFixed(2)} ms per spawn (median of ${runs} × ${n})`,
  );
}
