/** A daemon on a scratch unit directory, for one test; removed afterwards. */
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { control, startDaemon, type Daemon, type DaemonOptions } from '@mptcp/testkit/daemon';

export interface Fixture {
  dir: string;
  units: string;
  control: string;
  daemon: Daemon;
  status(): Promise<Status>;
  stop(): Promise<void>;
}

/** The parts of the control protocol's status reply the tests read. */
export interface Status {
  ok: boolean;
  pid?: number;
  sockets?: Array<{
    unit: string;
    state: string;
    connections: number;
    accepted: number;
    refused: number;
    activations: number;
    [k: string]: unknown;
  }>;
  services?: Array<{
    unit: string;
    state: string;
    pid?: number;
    pids: number[];
    result?: string;
    [k: string]: unknown;
  }>;
  failed?: Array<{ unit: string; file: string; messages: string[] }>;
  [k: string]: unknown;
}

/** A scratch directory (mode 0755 so `nobody` can traverse it). */
export function scratch(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `rel-${prefix}-`));
  chmodSync(dir, 0o755);
  return dir;
}

/** Daemons still running: killed when the test process exits (a timed-out test never reaches its finally). */
const running = new Set<Daemon>();
process.once('exit', () => {
  for (const d of running) {
    try {
      process.kill(d.proc.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
});

export async function startFixture(dir: string, o: Partial<DaemonOptions> = {}): Promise<Fixture> {
  const units = join(dir, 'units');
  mkdirSync(units, { recursive: true });
  const ctl = join(dir, 'control.sock');
  const daemon = await startDaemon({ units, control: ctl, ...o });
  running.add(daemon);
  void daemon.proc.exited.then(() => running.delete(daemon));
  return {
    dir,
    units,
    control: ctl,
    daemon,
    status: async () => {
      const r = (await control(ctl, 'status')) as { ok: boolean; status?: Omit<Status, 'ok'> };
      return { ...(r.status ?? {}), ok: r.ok } as Status;
    },
    stop: () => daemon.stop(),
  };
}

export function cleanup(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Polls `check` every 50 ms until it returns a truthy value or `ms` pass. */
export async function until<T>(check: () => Promise<T> | T, ms = 10_000, what = 'condition'): Promise<NonNullable<T>> {
  const t0 = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    if (Date.now() - t0 > ms)
      throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
