/** What every reliability test file sets up: scratch directories, and a daemon stopped however the test ends. */
import type { DaemonOptions } from '@mptcp/testkit/daemon';
import { afterAll } from 'vitest';
import { cleanup, scratch, startFixture, until, type Fixture } from '../../src/fixture.js';

/** For one test file: makes scratch directories (`rel-PREFIX-…`), all removed after the file's tests. */
export function scratchDirs(): (prefix: string) => string {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach(cleanup));
  return (prefix) => {
    const d = scratch(prefix);
    dirs.push(d);
    return d;
  };
}

/** SIGHUP, then waits for the daemon's next `reloaded` event line. */
export async function reload(fx: Fixture): Promise<void> {
  const reloads = (): number => fx.daemon.proc.stdout.filter((l) => l.startsWith('{"event":"reloaded"')).length;
  const n = reloads();
  process.kill(fx.daemon.proc.pid, 'SIGHUP');
  await until(() => reloads() > n, 20_000, 'reloaded event');
}

/** Runs `body` against a daemon on `dir`/units, and stops the daemon when the body returns or throws. */
export async function withFixture<T>(
  dir: string,
  body: (fx: Fixture) => Promise<T>,
  o: Partial<DaemonOptions> = {},
): Promise<T> {
  const fx = await startFixture(dir, o);
  try {
    return await body(fx);
  } finally {
    await fx.stop();
  }
}
