/**
 * The socket side of the engine (systemd's socket.c states): opening a unit's listeners, watching
 * them (PollLimit*= pauses), lending them to the service that holds them, failing, closing, and
 * reopening them with a reloaded definition. What a readiness event does is the caller's
 * (`onReadable`: accept-instances.ts for Accept=yes, service-runtime.ts for Accept=no).
 */
import { checkSocketIpAcl, socketIpDeny } from './socket-ip-acl.js';
import { hasStartConditions, socketConditionsMet } from './exec-condition.js';
import type { SocketUnit } from '@mptcp/unit';
import type { AcceptedInstance } from './accept-instances.js';
import type { ConnectionLimits } from './connection-limits.js';
import type { EngineCore } from './engine-core.js';
import type { SocketCounters, SocketResult, SocketState, StartReport } from './engine-types.js';
import { ActivationError, messageOf } from './errors.js';
import { formatSockAddr } from './listen-address.js';
import { TRIGGER_LIMIT_MESSAGE, connectionLimitsFor, triggerLimitOf } from './limits.js';
import type { ReadableWatch } from './native-binding.js';
import { type OpenedPort, type Preopened, closePorts, closePreopened, openPorts, preopenPorts } from './open-listen.js';
import { invocationId } from './environment.js';
import { RateLimit } from './rate-limit.js';
import { activeStateOf } from './socket-active-state.js';
import type { SocketControl } from './socket-exec.js';
import { hasExecCommands, listenFailedLine, SocketSteps } from './socket-steps.js';
import { failedToStartLine } from './job-messages.js';

export interface SocketRuntime {
  unit: SocketUnit;
  /** The definition the fds were opened with; its socketIdentity() is computed on the first reload (keyOf()). */
  opened: SocketUnit;
  key?: string;
  state: SocketState;
  result: SocketResult;
  error?: string;
  ports: OpenedPort[];
  watches: ReadableWatch[];
  triggerLimit: RateLimit;
  /** PollLimitIntervalSec=/PollLimitBurst= (created on first use). */
  pollLimit?: RateLimit;
  /** Set while polling is paused by the poll limit. */
  pollPause?: NodeJS.Timeout;
  limits: ConnectionLimits;
  counters: SocketCounters;
  nAccepted: number;
  instances: Set<AcceptedInstance>;
  /** The fds are in blocking mode because a service holds them. */
  lent: boolean;
  /** Set while accept() failed with EMFILE/ENFILE: the retry timer. */
  fdWait?: NodeJS.Timeout;
  /** Resumes accepting after an EMFILE stall (called when an instance exits). */
  resumeAccept?: () => void;
  /**
   * A reloaded definition with other Listen=/socket settings, waiting for the service that holds
   * the current fds to exit (systemd applies such changes when the socket is restarted).
   */
  pending?: SocketUnit;
  /** ExecStartPre=/ExecStartPost=/ExecStopPre=/ExecStopPost=: this run's control processes (socket-steps.ts). */
  control?: SocketControl;
  /**
   * When its ActiveState last changed (ms since the epoch; engine-status.ts gives it as ISO 8601);
   * unset until the first start. A number: a `new Date()` per socket at start-up makes V8 set up its
   * date cache and time zone (ICU's data pages: ~0.9 MB of idle RSS with 1,000 sockets).
   */
  since?: number;
  /** The current or last start's invocation ID (systemctl status's Invocation:). */
  invocationId?: string;
  /** A start or stop with control commands under way. */
  busy?: Promise<void>;
  /** A stop was asked for during that start: it ends in the stop states once its command is killed. */
  stopRequested?: boolean;
}

/** What a reopened socket takes over from the runtime it replaces: its Accept=yes instances and their counts. */
export interface Carried {
  instances: Set<AcceptedInstance>;
  limits: ConnectionLimits;
  counters: SocketCounters;
  nAccepted: number;
}

export function carriedFrom(sock: SocketRuntime): Carried {
  return { instances: sock.instances, limits: sock.limits, counters: sock.counters, nAccepted: sock.nAccepted };
}

/** A socket whose fds are open and in use (listening, or lent to its service). */
export function serving(sock: SocketRuntime): boolean {
  return (sock.state === 'listening' || sock.state === 'running') && sock.ports.length > 0;
}

/** Fields that do not change how the fds are opened: a reload that only changes these keeps the fds. */
const RUNTIME_ONLY_FIELDS = new Set([
  'file',
  'dropIns',
  'unit',
  'service',
  'triggerLimitIntervalUsec',
  'triggerLimitBurst',
  'pollLimitIntervalUsec',
  'pollLimitBurst',
  'maxConnections',
  'maxConnectionsPerSource',
  'fileDescriptorName',
  'execStartPre',
  'execStartPost',
  'execStopPre',
  'execStopPost',
  'timeoutUsec',
  'flushPending',
  'removeOnStop',
  'install',
]);

/** What identifies the opened fds of a socket unit (see RUNTIME_ONLY_FIELDS). */
export function socketIdentity(unit: SocketUnit): string {
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(unit)) {
    if (RUNTIME_ONLY_FIELDS.has(k)) continue;
    rest[k] = k === 'listen' ? unit.listen.map((l) => [l.kind, l.value]) : v;
  }
  return JSON.stringify(rest);
}

/** socketIdentity() of what a runtime's fds were opened with, computed once, when a reload first compares it. */
export function keyOf(sock: SocketRuntime): string {
  sock.key ??= socketIdentity(sock.opened);
  return sock.key;
}

export interface SocketRuntimeHooks {
  /** A listener is readable (a connection or datagram waits) and the poll limit allows it. */
  onReadable(sock: SocketRuntime, port: OpenedPort): void;
  /** Throws when the unit's service (or template) is not loaded: systemd refuses to start the socket. */
  checkTarget(unit: SocketUnit): void;
}

/** The engine's socket units by name, and the transitions of each one's listeners. */
export class SocketRuntimes {
  private readonly byName = new Map<string, SocketRuntime>();
  private readonly steps: SocketSteps;

  constructor(
    private readonly core: EngineCore,
    readonly hooks: SocketRuntimeHooks,
  ) {
    this.steps = new SocketSteps(core, this);
  }

  get(name: string): SocketRuntime | undefined {
    return this.byName.get(name);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  delete(name: string): void {
    this.byName.delete(name);
  }

  clear(): void {
    this.byName.clear();
  }

  names(): IterableIterator<string> {
    return this.byName.keys();
  }

  values(): IterableIterator<SocketRuntime> {
    return this.byName.values();
  }

  entries(): IterableIterator<[string, SocketRuntime]> {
    return this.byName.entries();
  }

  /** `sock` is still the runtime of its unit (not replaced by a reload or restart) and the engine runs. */
  live(sock: SocketRuntime): boolean {
    return !this.core.stopping && this.byName.get(sock.unit.name) === sock;
  }

  /**
   * Opens every unit's listeners, in order, as open() one unit after the other: the leading IP stream
   * listeners with one native call (preopenPorts()), the rest one by one. Units with control
   * commands start asynchronously (settled() waits for them); theirs are never opened before
   * ExecStartPre= has run.
   */
  openAll(units: readonly SocketUnit[], report: StartReport): void {
    const native = this.core.requireNative();
    const plain = units.some(hasExecCommands) ? units.filter((u) => !hasExecCommands(u)) : units;
    const preopened = preopenPorts(plain, native, (unit) => {
      try {
        this.hooks.checkTarget(unit);
        if (socketIpDeny(unit).length > 0) return true;
        return hasStartConditions(unit);
      } catch {
        return true;
      }
    });
    try {
      for (const unit of units) this.open(unit, report, undefined, preopened);
    } finally {
      closePreopened(preopened, native);
    }
  }

  /**
   * What socket_start() checks before anything opens: the service is loaded (hooks.checkTarget), and
   * an IP address filter we cannot apply is refused (socket-ip-acl.ts). Throws the refusal.
   */
  checkStart(unit: SocketUnit): void {
    this.hooks.checkTarget(unit);
    const warning = checkSocketIpAcl(unit, this.core.serviceOptions().allowUnenforcedSandbox === true);
    if (warning) this.core.log.warn(warning, { unit: unit.name });
  }

  /** A new runtime for `unit` (dead), registered under its name. */
  create(unit: SocketUnit, carried?: Carried): SocketRuntime {
    const sock: SocketRuntime = {
      unit,
      opened: unit,
      state: 'dead',
      result: 'success',
      ports: [],
      watches: [],
      triggerLimit: triggerLimitOf(unit),
      limits: connectionLimitsFor(unit, carried?.limits),
      counters: carried?.counters ?? { accepted: 0, refused: 0, triggers: 0 },
      nAccepted: carried?.nAccepted ?? 0,
      instances: carried?.instances ?? new Set(),
      lent: false,
    };
    this.byName.set(unit.name, sock);
    return sock;
  }

  /**
   * Opens `unit`'s listeners and polls them; on failure the runtime is `failed` (both reported). A
   * unit with control commands runs them around that (socket-steps.ts): the report is complete once
   * settled() resolves.
   */
  open(unit: SocketUnit, report: StartReport, carried?: Carried, preopened?: Preopened): void {
    // Condition*=/Assert*= (exec-condition.ts): unmet, the socket stays dead; a failed assert fails the job.
    if (!socketConditionsMet(this.create(unit, carried), unit, report, this.core.log)) return;
    if (hasExecCommands(unit)) {
      this.steps.start(unit, report, carried);
      return;
    }
    const { log } = this.core;
    const sock = this.create(unit, carried);
    const failed = (err: unknown): void => {
      const code = err instanceof ActivationError ? err.code : undefined;
      report.failed.push({ unit: unit.name, error: messageOf(err), ...(code ? { code } : {}) });
    };
    try {
      this.checkStart(unit);
    } catch (err) {
      // socket_start() refuses before anything is opened: the job fails with its line, the socket
      // stays inactive (dead), Result=success (fixtures/v257/socket-service-not-loaded).
      log.error(messageOf(err), { unit: unit.name });
      log.error(failedToStartLine(unit.name, unit.unit.description), { unit: unit.name, bare: true });
      sock.error = messageOf(err);
      failed(err);
      return;
    }
    try {
      this.openPorts(sock, preopened);
      this.enterListening(sock);
      report.listening.push(unit.name);
    } catch (err) {
      // socket_enter_start_chown()/socket_enter_listening() (fixtures/v257/activation.json m.socket):
      // `Failed to create listening socket (…): …`, `Failed to listen on sockets: <strerror>`,
      // `Failed with result 'resources'.`, then the job's `Failed to listen on UNIT - DESCRIPTION.`
      log.error(messageOf(err), { unit: unit.name });
      log.warn(listenFailedLine(err), { unit: unit.name });
      this.enterFailed(sock, 'resources');
      sock.error = messageOf(err);
      log.error(failedToStartLine(unit.name, unit.unit.description), { unit: unit.name, bare: true });
      failed(err);
    }
  }

  /** Opens the unit's listeners into `sock.ports` (throws when one cannot be opened; none is left open). */
  openPorts(sock: SocketRuntime, preopened?: Preopened): void {
    const { log } = this.core;
    const unit = sock.unit;
    // Array.from: exactly the ports' length (openPorts() pushes; see enterListening()).
    sock.ports = Array.from(openPorts(unit, this.core.requireNative(), log, preopened));
    for (const p of sock.ports) {
      log.info(`Listening on ${p.local ? formatSockAddr(p.local) : p.entry.value} (${p.transport}) as fd ${p.fd}.`, {
        unit: unit.name,
      });
    }
  }

  setState(sock: SocketRuntime, state: SocketState, result?: SocketResult): void {
    if (result !== undefined) sock.result = result;
    if (sock.state === state && result === undefined) return;
    // systemctl status's `since`: when the socket's ActiveState last changed.
    if (activeStateOf(state) !== activeStateOf(sock.state)) sock.since = Date.now();
    // unit_acquire_invocation_id(): each start from inactive or failed is a new invocation.
    if (
      ['inactive', 'failed'].includes(activeStateOf(sock.state)) &&
      !['inactive', 'failed'].includes(activeStateOf(state))
    )
      sock.invocationId = invocationId();
    sock.state = state;
    this.core.events.emit('socket-state', { socket: sock.unit.name, state, result: sock.result });
  }

  /** Polls the listeners (again): back from the service, the fds are non-blocking again. */
  enterListening(sock: SocketRuntime): void {
    const native = this.core.requireNative();
    if (sock.lent) {
      for (const p of sock.ports) native.setNonBlocking(p.fd, true);
      sock.lent = false;
    }
    this.unwatch(sock);
    // socket_watch_fds() sets the poll limit afresh each time (sd_event_source_set_ratelimit() resets
    // its state): it limits wake-ups in a row, not the triggers of a service that keeps ending
    // (fixtures/v257/start-limit-conditions condsock: 20 triggers, then the trigger limit).
    sock.pollLimit?.reset();
    // map(), not push(): an array of exactly the ports' length (a pushed one keeps 16 spare slots,
    // ~130 bytes per socket of a daemon that keeps thousands).
    sock.watches = sock.ports.map((port) => {
      const onReadable = (error: Error | null): void => {
        if (error) {
          this.core.log.error(`Failed to poll ${port.entry.value}: ${error.message}`, { unit: sock.unit.name });
          if (sock.state === 'listening') this.enterFailed(sock, 'resources', error.message);
          return;
        }
        if (!this.pollAllowed(sock)) return;
        this.hooks.onReadable(sock, port);
      };
      return native.watchReadable(port.fd, onReadable);
    });
    this.setState(sock, 'listening');
  }

  unwatch(sock: SocketRuntime): void {
    for (const w of sock.watches) w.stop();
    sock.watches = [];
    if (sock.pollPause) {
      clearTimeout(sock.pollPause);
      delete sock.pollPause;
    }
  }

  /**
   * PollLimitIntervalSec=/PollLimitBurst=: more wake-ups than the burst within the interval pause
   * polling until the interval is over (257 rate-limits the event source; the socket is not
   * failed, unlike TriggerLimit*=).
   */
  private pollAllowed(sock: SocketRuntime): boolean {
    const u = sock.unit;
    let lim = sock.pollLimit;
    if (!lim || lim.intervalUsec !== u.pollLimitIntervalUsec || lim.burst !== u.pollLimitBurst) {
      lim = new RateLimit(u.pollLimitIntervalUsec, u.pollLimitBurst);
      sock.pollLimit = lim;
    }
    if (lim.below()) return true;
    const ms = Math.max(1, Math.round(u.pollLimitIntervalUsec / 1000));
    this.core.log.warn(
      `Poll limit hit (PollLimitBurst=${u.pollLimitBurst} in ${ms} ms), pausing polling for ${ms} ms.`,
      { unit: u.name },
    );
    this.unwatch(sock);
    sock.pollPause = setTimeout(() => {
      delete sock.pollPause;
      lim.reset();
      if (sock.state === 'listening' && this.live(sock)) this.enterListening(sock);
    }, ms);
    return false;
  }

  enterFailed(sock: SocketRuntime, result: SocketResult, error?: string): void {
    // socket_enter_stop_pre(): a unit with ExecStopPre=/ExecStopPost= runs them on the way down.
    if (hasExecCommands(sock.unit) && sock.busy === undefined && sock.ports.length > 0) {
      if (error !== undefined) sock.error = error;
      this.steps.stop(sock, result);
      return;
    }
    this.unwatch(sock);
    closePorts(sock.ports, this.core.requireNative(), sock.unit.removeOnStop);
    sock.ports = [];
    sock.lent = false;
    if (error !== undefined) sock.error = error;
    if (result !== 'resources' || error === undefined)
      this.core.log.warn(`Failed with result '${result}'.`, { unit: sock.unit.name });
    this.setState(sock, 'failed', result);
  }

  triggerLimitHit(sock: SocketRuntime): void {
    this.core.log.warn(TRIGGER_LIMIT_MESSAGE, { unit: sock.unit.name });
    this.enterFailed(sock, 'trigger-limit-hit', TRIGGER_LIMIT_MESSAGE);
  }

  /** The service takes the fds: no polling meanwhile, blocking unless it is NonBlocking=yes. */
  lend(sock: SocketRuntime, nonBlocking: boolean): void {
    const native = this.core.requireNative();
    this.unwatch(sock);
    if (!nonBlocking) for (const p of sock.ports) native.setNonBlocking(p.fd, false);
    sock.lent = true;
    this.setState(sock, 'running');
  }

  /** Back to polling on the next tick, so that a failing start cannot recurse into itself. */
  enterListeningLater(sock: SocketRuntime): void {
    setImmediate(() => {
      if (sock.state !== 'running' || !this.live(sock)) return;
      // A socket with control commands applies new settings at its next start (socket-steps.ts).
      if (sock.pending && !hasExecCommands(sock.unit) && !hasExecCommands(sock.pending)) this.applyPending(sock);
      else this.enterListening(sock);
    });
  }

  /** Closes an idle socket's fds and opens them with `unit`'s settings; on failure the previous ones come back. */
  reopen(sock: SocketRuntime, unit: SocketUnit, report: StartReport & { reopened?: string[] }): void {
    const previous = sock.unit;
    const carried = carriedFrom(sock);
    this.close(sock);
    this.byName.delete(unit.name);
    const attempt: StartReport = { listening: [], failed: [] };
    this.open(unit, attempt, carried);
    if (attempt.failed.length === 0) {
      report.reopened?.push(unit.name);
      report.listening.push(unit.name);
      return;
    }
    this.core.log.warn(
      `New socket settings could not be applied (${attempt.failed[0]?.error ?? 'error'}); keeping the previous ones.`,
      { unit: unit.name },
    );
    this.byName.delete(unit.name);
    this.open(previous, report, carried);
  }

  /** The service that held the fds has exited: the settings a reload brought in apply now. */
  private applyPending(sock: SocketRuntime): void {
    const unit = sock.pending;
    if (!unit) return;
    delete sock.pending;
    this.core.log.info('Applying the socket settings changed while its service ran.', { unit: unit.name });
    this.reopen(sock, unit, { listening: [], failed: [] });
  }

  /**
   * `stop`: ExecStopPre=, the fds closed, ExecStopPost= (socket_enter_stop_pre()); without such
   * commands close(). A start under way is ended first (its command killed, then ExecStopPost=).
   */
  stop(sock: SocketRuntime, restart = false): Promise<void> {
    return this.steps.requestStop(sock, restart);
  }

  /** Resolves once every start and stop with control commands under way is over. */
  settled(): Promise<void> {
    return this.steps.settled();
  }

  /** Closes the fds (removing RemoveOnStop= nodes): the socket is `dead`. */
  close(sock: SocketRuntime): void {
    this.unwatch(sock);
    if (sock.fdWait) {
      clearTimeout(sock.fdWait);
      delete sock.fdWait;
    }
    if (sock.ports.length > 0) closePorts(sock.ports, this.core.requireNative(), sock.unit.removeOnStop);
    sock.ports = [];
    this.setState(sock, 'dead');
  }
}
