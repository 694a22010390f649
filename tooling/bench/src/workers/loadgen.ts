/**
 * Load generator process: `loadgen.js --host H --port P --concurrency C --seconds S [--expect 1]`.
 * Prints one JSON line (LoadResult). Runs in its own process so the server side is measured, not us.
 */
import { parseArgs, num } from '../lib/args.js';
import { load } from '../lib/loadgen.js';

const { opts } = parseArgs(process.argv.slice(2));
const local = opts.get('local');

/** `8000`, `8000,8001` or `8000-8999`. */
function portList(spec: string): number[] {
  const out: number[] = [];
  for (const part of spec.split(',')) {
    const [a, b] = part.split('-').map(Number);
    if (a === undefined || !Number.isInteger(a)) throw new Error(`bad port list ${spec}`);
    for (let p = a; p <= (b ?? a); p++) out.push(p);
  }
  return out;
}
const r = await load({
  host: opts.get('host') ?? '127.0.0.1',
  ports: portList(opts.get('port') ?? '0'),
  concurrency: num(opts, 'concurrency', 1),
  seconds: num(opts, 'seconds', 3),
  expect: num(opts, 'expect', 1),
  timeoutMs: num(opts, 'timeout-ms', 10_000),
  ...(local !== undefined && { localAddresses: local.split(',') }),
});
process.stdout.write(`${JSON.stringify(r)}\n`);
