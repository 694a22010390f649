/**
 * Imported first by cli.ts, for `run` only. The daemon allocates a burst while it loads its units and
 * then waits on fds for hours. By default V8 grows the young generation for that burst and keeps the
 * pages, and compiles hot code with its optimizing compiler, neither of which an fd-waiting,
 * process-spawning daemon needs. Measured with 1,000 socket units: idle RSS 73.5 → 59.2 MB, start-up
 * and Accept=yes connections/s unchanged. MPTCPD_LITE_V8_DEFAULTS=1 keeps V8's defaults.
 *
 * The small young generation has a price: what start-up allocates and drops a moment later is
 * promoted, and the old generation keeps those pages, mostly empty, until a full GC compacts them,
 * which an idle daemon may never run. compactHeap() runs that one compacting GC once the daemon is
 * ready (and after each reload): with 1,000 units, idle RSS 72.8 → 62.0 MB.
 */
import { createRequire } from 'node:module';
import { runInNewContext } from 'node:vm';
import { setV8Flags } from '@mptcp/native';

const tuned = process.argv[2] === 'run' && process.env.MPTCPD_LITE_V8_DEFAULTS !== '1';

/**
 * V8 flags through @mptcp/native (the same V8 call as node:v8's setFlagsFromString()): node:v8 would
 * load node:stream and the other stream modules with it, ~1.4 MB of the idle daemon's RSS. node:v8
 * when the addon cannot.
 */
function setFlags(flags: string): void {
  if (setV8Flags(flags)) return;
  (createRequire(import.meta.url)('node:v8') as typeof import('node:v8')).setFlagsFromString(flags);
}

if (tuned) {
  setFlags('--semi-space-growth-factor=1');
  setFlags('--no-opt');
}

/** Below this heap size (a few dozen units: ~10 MB, most of it code and the bundle) there is little to give back. */
export const COMPACT_MIN_HEAP_BYTES = 12 * 2 ** 20;
/**
 * From this many loaded units the compaction runs whatever the heap size: start-up's garbage grows
 * with the units, but how much of it the heap still holds at ready depends on when the last
 * scavenges ran (a start-up that allocates less ended below COMPACT_MIN_HEAP_BYTES with 1,000 units
 * and kept ~1.9 MB of promoted garbage for good).
 */
export const COMPACT_MIN_UNITS = 64;

/**
 * One full GC that compacts the old generation (its emptied pages go back to the OS). It holds the
 * event loop while it runs (measured with 1,000 units: ~0.2 s on the loaded 2-core test machine),
 * so the daemon calls it after READY=1 and the ready line, and only with COMPACT_MIN_UNITS units or
 * a heap grown past COMPACT_MIN_HEAP_BYTES: a daemon with a few units (a benchmark's first connection right after
 * ready) never waits for it. A no-op with V8's defaults (MPTCPD_LITE_V8_DEFAULTS=1) and outside `run`.
 */
export function compactHeap(units: number): void {
  if (!tuned || (units < COMPACT_MIN_UNITS && process.memoryUsage().heapTotal < COMPACT_MIN_HEAP_BYTES)) return;
  // V8 exposes gc() to contexts created after --expose-gc is set; the daemon's own context stays
  // without it.
  setFlags('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  setFlags('--compact-on-every-full-gc');
  // The bytecode of what start-up ran (loading, parsing, opening) goes too: V8 would drop it only
  // after 5 full GCs without a call, which an idle daemon does not run. A function called again is
  // compiled again from the source V8 keeps; the code cache was written before (afterReady()).
  setFlags('--stress-flush-code');
  try {
    gc();
  } finally {
    setFlags('--no-compact-on-every-full-gc');
    setFlags('--no-stress-flush-code');
  }
}
