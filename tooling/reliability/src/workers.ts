/** The bench's worker programs (echo and failover services), by their public export `@mptcp/bench/workers/*`. */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** The path of `@mptcp/bench/workers/NAME` (built: dist/workers/NAME.js). */
export function worker(name: string): string {
  return require.resolve(`@mptcp/bench/workers/${name}`);
}
