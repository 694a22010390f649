/**
 * A service's clocks (service.c's timer event source): TimeoutStartSec= (also for reloads, with
 * EXTEND_TIMEOUT_USEC=), TimeoutStopSec=, WatchdogSec= (WATCHDOG_USEC= overrides it for the
 * run) and RuntimeMaxSec= (+ RuntimeRandomizedExtraSec=). What a timeout does is the caller's.
 */
import type { ServiceUnit } from '@mptcp/unit';
import { randomBelow } from './random-id.js';
import { exitStatusLists } from './restart-policy.js';
import type { ServiceState, ServiceSubState } from './service-types.js';

/** setTimeout's limit (~24.8 days); longer timeouts are as good as infinite. */
const MAX_TIMER_MS = 2 ** 31 - 1;
export const usecToMs = (usec: number): number =>
  Number.isFinite(usec) ? Math.max(0, Math.round(usec / 1000)) : Infinity;
export const fmtSec = (usec: number): string => (Number.isFinite(usec) ? `${+(usec / 1e6).toFixed(3)}s` : 'infinity');

export function timer(usec: number, fn: () => void): NodeJS.Timeout | undefined {
  const ms = usecToMs(usec);
  if (!Number.isFinite(ms) || ms > MAX_TIMER_MS) return undefined;
  return setTimeout(fn, ms);
}

export interface TimeoutHandlers {
  onStartTimeout(): void;
  onStopTimeout(): void;
  onWatchdogTimeout(): void;
  /**
   * Reads the notifications already queued for the daemon. The watchdog calls it before it expires:
   * systemd runs the watchdog at SD_EVENT_PRIORITY_IDLE, so a WATCHDOG=1 that waits on the notify
   * socket (the daemon was not scheduled, or busy, while the service sent it) counts first.
   */
  flushNotifications?(): void;
  /** RuntimeMaxSec= has passed since the service became active (it is active/running). */
  onRuntimeTimeout?(): void;
}

export class ServiceTimers {
  private startTimer: NodeJS.Timeout | undefined;
  private startDeadline = 0;
  /** A start's timeout is counting (beginStart()) but its timer is not set yet (armStartIfPending()). */
  private startPending = false;
  private stopTimer: NodeJS.Timeout | undefined;
  private watchdogTimer: NodeJS.Timeout | undefined;
  /** WATCHDOG_USEC= override from the service for this run. */
  private watchdogOverride: number | undefined;
  private runtimeTimer: NodeJS.Timeout | undefined;
  /** When the service last became active (257's active_enter_timestamp), ms since the epoch. */
  private activeSince = 0;

  constructor(
    private readonly unit: () => ServiceUnit,
    private readonly on: TimeoutHandlers,
  ) {}

  /** A new run: no override from the previous one. */
  reset(): void {
    this.watchdogOverride = undefined;
  }

  armStart(usec: number): void {
    this.clearStart();
    this.startDeadline = Number.isFinite(usec) ? Date.now() + usecToMs(usec) : Infinity;
    this.startTimer = timer(usec, () => this.fireStart());
  }

  /**
   * A start begins: TimeoutStartSec= counts from now, but the timer is set only once the start can
   * wait (armStartIfPending()): a Type=simple/exec start without ExecStartPre=/ExecStartPost= is
   * over when its spawn returns, and a timer set and cleared per Accept=yes connection is pure cost.
   */
  beginStart(usec: number): void {
    this.clearStart();
    const ms = usecToMs(usec);
    this.startDeadline = Number.isFinite(usec) ? Date.now() + ms : Infinity;
    this.startPending = Number.isFinite(ms) && ms <= MAX_TIMER_MS;
  }

  /** Sets the timer of a begun start for what is left of its TimeoutStartSec=. */
  armStartIfPending(): void {
    if (!this.startPending) return;
    this.startPending = false;
    this.startTimer = setTimeout(() => this.fireStart(), Math.max(0, this.startDeadline - Date.now()));
  }

  clearStart(): void {
    if (this.startTimer) clearTimeout(this.startTimer);
    this.startTimer = undefined;
    this.startPending = false;
  }

  private fireStart(): void {
    this.startTimer = undefined;
    this.on.onStartTimeout();
  }

  armStop(): void {
    if (this.stopTimer) clearTimeout(this.stopTimer);
    this.stopTimer = timer(this.unit().timeoutStopUsec, () => this.fireStop());
  }

  clearStop(): void {
    if (this.stopTimer) clearTimeout(this.stopTimer);
    this.stopTimer = undefined;
  }

  private fireStop(): void {
    this.stopTimer = undefined;
    this.on.onStopTimeout();
  }

  /**
   * EXTEND_TIMEOUT_USEC=: while starting or reloading, the start timeout ends no sooner than `usec`
   * from now; while stopping, the stop timeout is `usec` from now.
   */
  extend(usec: number, phase: 'starting' | 'stopping' | 'other'): void {
    const until = Date.now() + usecToMs(usec);
    if (phase === 'starting' && this.startTimer && until > this.startDeadline) {
      this.clearStart();
      this.startDeadline = until;
      this.startTimer = timer(usec, () => this.fireStart());
    } else if (phase === 'stopping' && this.stopTimer) {
      clearTimeout(this.stopTimer);
      this.stopTimer = timer(usec, () => this.fireStop());
    }
  }

  watchdogUsec(): number {
    return this.watchdogOverride ?? this.unit().watchdogUsec ?? 0;
  }

  get watchdogArmed(): boolean {
    return this.watchdogTimer !== undefined;
  }

  /** (Re)arms the watchdog from now (service_reset_watchdog()). */
  startWatchdog(): void {
    if (this.watchdogTimer) clearTimeout(this.watchdogTimer);
    this.watchdogTimer = undefined;
    const usec = this.watchdogUsec();
    if (usec <= 0) return;
    const armed = timer(usec, () => {
      // Node runs due timers before it polls for I/O: what the service sent meanwhile is read first,
      // and a WATCHDOG=1 (or STOPPING=1, WATCHDOG_USEC=, the exit) among it re-arms or stops this timer.
      this.on.flushNotifications?.();
      if (this.watchdogTimer !== armed) return;
      this.watchdogTimer = undefined;
      this.on.onWatchdogTimeout();
    });
    this.watchdogTimer = armed;
  }

  stopWatchdog(): void {
    if (this.watchdogTimer) clearTimeout(this.watchdogTimer);
    this.watchdogTimer = undefined;
  }

  /**
   * The service's state changes (ServiceProcess.setState()): RuntimeMaxSec= counts from when it
   * became active (a reload does not restart the clock) and is armed while it is active/running,
   * as 257's service_enter_running() arms service_running_timeout(); RuntimeRandomizedExtraSec= adds
   * a random delay below it at each arming. Type=oneshot: no effect (the unit warned at load).
   */
  onState(prev: ServiceState, state: ServiceState, sub: ServiceSubState): void {
    if (state === 'active' && prev !== 'active' && prev !== 'reloading') this.activeSince = Date.now();
    if (state !== 'active' || sub !== 'running') return this.clearRuntime();
    if (this.runtimeTimer) return;
    const { runtimeMaxUsec, runtimeRandomizedExtraUsec } = exitStatusLists(this.unit());
    if (!Number.isFinite(runtimeMaxUsec)) return;
    const extra = runtimeRandomizedExtraUsec > 0 ? randomBelow(Math.min(runtimeRandomizedExtraUsec, 2 ** 47)) : 0;
    const left = this.activeSince * 1000 + runtimeMaxUsec + extra - Date.now() * 1000;
    const armed = timer(Math.max(0, left), () => {
      if (this.runtimeTimer !== armed) return;
      this.runtimeTimer = undefined;
      this.on.onRuntimeTimeout?.();
    });
    this.runtimeTimer = armed;
  }

  clearRuntime(): void {
    if (this.runtimeTimer) clearTimeout(this.runtimeTimer);
    this.runtimeTimer = undefined;
  }

  /** WATCHDOG_USEC=: the new interval, applied at once when the watchdog runs (or the service is active). */
  overrideWatchdog(usec: number, active: boolean): void {
    this.watchdogOverride = usec;
    if (this.watchdogTimer || active) this.startWatchdog();
  }
}
