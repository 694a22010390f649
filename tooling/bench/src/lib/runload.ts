/** Runs the load generator as its own process and returns its figures. */
import { worker } from './paths.js';
import { run } from './proc.js';
import type { LoadResult } from './loadgen.js';

export interface RunLoad {
  host?: string;
  /** `8000`, `8000,8001` or `8000-8999`. */
  port: string | number;
  concurrency: number;
  seconds: number;
  expect?: number;
  prefix?: string[];
}

export async function runLoad(o: RunLoad): Promise<LoadResult> {
  const argv = [
    ...(o.prefix ?? []),
    process.execPath,
    worker('loadgen'),
    '--host',
    o.host ?? '127.0.0.1',
    '--port',
    String(o.port),
  ];
  argv.push('--concurrency', String(o.concurrency), '--seconds', String(o.seconds), '--expect', String(o.expect ?? 1));
  const out = await run(argv[0]!, argv.slice(1), { timeoutMs: (o.seconds + 30) * 1000 });
  const line = out
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  if (!line) throw new Error('loadgen printed no result');
  return JSON.parse(line) as LoadResult;
}
