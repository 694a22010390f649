/**
 * fetch() load for the HTTP scenario: `--url URL --seconds S --concurrency C` runs C loops of
 * sequential fetches (global fetch, keep-alive pool) for S seconds and prints "REQUESTS n seconds".
 * MPTCP when run with `--import @mptcp/native/register` and NODE_MPTCP=1.
 */
import { parseArgs, num } from '../lib/args.js';

const { opts } = parseArgs(process.argv.slice(2));
const url = opts.get('url') ?? '';
const seconds = num(opts, 'seconds', 5);
const concurrency = num(opts, 'concurrency', 10);
let requests = 0;
const start = performance.now();
const until = start + seconds * 1000;
async function loop(): Promise<void> {
  while (performance.now() < until) {
    const res = await fetch(url);
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`status ${res.status}`);
    requests++;
  }
}
await Promise.all(Array.from({ length: concurrency }, loop));
process.stdout.write(`REQUESTS ${requests} ${((performance.now() - start) / 1000).toFixed(3)}\n`);
