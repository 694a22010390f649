/**
 * sd_watchdog_enabled(3) and a timer that keeps the manager's watchdog fed: WATCHDOG=1 every half
 * of WATCHDOG_USEC, as sd_watchdog_enabled(3) recommends.
 */
import { notify } from './notify.js';

export interface WatchdogEnabledOptions {
  /** Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Default process.pid. */
  pid?: number;
  /** Remove WATCHDOG_USEC/WATCHDOG_PID afterwards so children do not inherit them. */
  unsetEnvironment?: boolean;
}

/**
 * The watchdog timeout in µs the manager expects pings within, or 0 when none is set for this
 * process (WATCHDOG_USEC unset, or WATCHDOG_PID names another process).
 */
export function watchdogEnabled(options: WatchdogEnabledOptions = {}): number {
  const env = options.env ?? process.env;
  try {
    const text = env.WATCHDOG_USEC;
    if (text === undefined || !/^\d+$/.test(text)) return 0;
    const usec = Number(text);
    if (!Number.isSafeInteger(usec) || usec <= 0) return 0;
    const pidText = env.WATCHDOG_PID;
    if (pidText !== undefined && Number(pidText) !== (options.pid ?? process.pid)) return 0;
    return usec;
  } finally {
    if (options.unsetEnvironment) {
      delete env.WATCHDOG_USEC;
      delete env.WATCHDOG_PID;
    }
  }
}

export interface Watchdog {
  /** The interval between pings in ms (half the timeout). */
  readonly intervalMs: number;
  /** Pings now (e.g. after a long synchronous task). */
  ping(): Promise<boolean>;
  stop(): void;
}

export interface WatchdogOptions extends WatchdogEnabledOptions {
  /** Called when a ping fails to send (default: ignored, the next one retries). */
  onError?: (err: unknown) => void;
}

/**
 * Starts pinging when the manager asked for a watchdog; undefined otherwise. The timer does not
 * keep the process alive (unref), so a service that is done can still exit.
 */
export function watchdog(options: WatchdogOptions = {}): Watchdog | undefined {
  const usec = watchdogEnabled(options);
  if (usec === 0) return undefined;
  const env = options.env ?? process.env;
  const intervalMs = Math.max(1, Math.floor(usec / 2000));
  const ping = (): Promise<boolean> =>
    notify({ watchdog: true }, { env }).catch((err: unknown) => {
      options.onError?.(err);
      return false;
    });
  void ping();
  const timer = setInterval(() => void ping(), intervalMs);
  timer.unref();
  return { intervalMs, ping, stop: () => clearInterval(timer) };
}
