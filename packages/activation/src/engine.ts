/**
 * The activation engine: systemd's socket unit state machine (socket.c) for the subset that
 * mptcpd-lite needs. It owns the listening fds, watches them through @mptcp/native, and starts
 * services (Accept=no) or per-connection instances (Accept=yes).
 */
import { EventEmitter } from 'node:events';
import { readFileSync, readdirSync } from 'node:fs';
import type { AcceptedConnection } from '@mptcp/native';
import { type ServiceUnit, type SocketUnit, searchPathListing, serviceNameFor, templateOf } from '@mptcp/unit';
import { ConnectionLimits } from './connection-limits.js';
import type {
  EngineEvents,
  EngineStatus,
  EngineUnits,
  ListenStatus,
  ServiceTemplate,
  ReloadReport,
  UnitInfo,
  SocketCounters,
  SocketResult,
  SocketState,
  SocketStatus,
  StartReport,
} from './engine-types.js';
import { ActivationError, errnoOf, messageOf } from './errors.js';
import type { OutputMode, SpawnMethod } from './exec.js';
import {
  connectionInstance,
  instanceServiceName,
  prettyAddress,
  remoteEnvironment,
  sourceKey,
  templateNameFor,
} from './instance-name.js';
import { formatSockAddr, portOf } from './listen-address.js';
import { type Logger, silentLogger } from './logger.js';
import { type NativeApi, type ReadableWatch, loadNative } from './native-binding.js';
import { type OpenedPort, closePorts, openPorts } from './open-listen.js';
import { RateLimit } from './rate-limit.js';
import { ServiceChannels } from './service-channels.js';
import { restartDelayUsec } from './restart-policy.js';
import {
  type ServiceExit,
  ServiceProcess,
  type ServiceProcessOptions,
  type ServiceSnapshot,
  type StartContext,
  markStartLimitHit,
} from './service-process.js';
import {
  type SnapshotCache,
  type TemplateResolver,
  defaultTemplateResolver,
  isServiceUnit,
  snapshotTemplate,
} from './templates.js';

export interface EngineOptions {
  logger?: Logger;
  /** The syscall layer; defaults to @mptcp/native, loaded on start(). */
  native?: NativeApi;
  /** Where services' stdout/stderr go (StandardOutput=null always discards). Default `inherit`. */
  serviceOutput?: OutputMode;
  /** Builds Accept=yes instances from templates; default: @mptcp/unit's loadServiceInstance or %-substitution. */
  instantiate?: TemplateResolver;
  /** The daemon environment the locale variables are taken from (default process.env). */
  daemonEnv?: NodeJS.ProcessEnv;
  /**
   * `native` (default): services are started by @mptcp/native's spawnProcess when the `native` layer
   * has it; `node`: always child_process.spawn + the /bin/sh wrapper.
   */
  spawn?: SpawnMethod;
  /**
   * The notify socket's address (`@abstract` or a path) passed to services as NOTIFY_SOCKET; default a
   * fresh abstract one; `false`: none (Type=notify services then never become ready).
   */
  notifySocket?: string | false;
}

/** Accept=no service name: Service= or the socket's own name with `.service`. */
export function serviceNameOf(socket: SocketUnit): string {
  return serviceNameFor({ name: socket.name, accept: false, ...(socket.service ? { service: socket.service } : {}) });
}

interface SocketRuntime {
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
  instances: Set<ServiceProcess>;
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
}

/** What a reopened socket takes over from the runtime it replaces: its Accept=yes instances and their counts. */
interface Carried {
  instances: Set<ServiceProcess>;
  limits: ConnectionLimits;
  counters: SocketCounters;
  nAccepted: number;
}

function carriedFrom(sock: SocketRuntime): Carried {
  return { instances: sock.instances, limits: sock.limits, counters: sock.counters, nAccepted: sock.nAccepted };
}

/** A socket whose fds are open and in use (listening, or lent to its service). */
function serving(sock: SocketRuntime): boolean {
  return (sock.state === 'listening' || sock.state === 'running') && sock.ports.length > 0;
}

interface ServiceRuntime {
  process: ServiceProcess;
  startLimit: RateLimit;
  restartTimer?: NodeJS.Timeout;
  /** Set while start() is queued so that two triggers never start twice. */
  starting: boolean;
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
function keyOf(sock: SocketRuntime): string {
  sock.key ??= socketIdentity(sock.opened);
  return sock.key;
}

/** Accept=yes connections accepted per readiness event at most (then the next ones in a macrotask). */
const ACCEPT_BATCH = 8;

/** At most this many Accept=yes connections wait for their instance to be spawned (all sockets). */
const MAX_STARTS_IN_FLIGHT = 64;
/** fds one waiting connection may cost until its instance runs: the connection, pidfd, output pipes. */
const FDS_PER_START = 4;

let fdLimitCache: number | undefined;

/** RLIMIT_NOFILE (soft), read once from /proc/self/limits; Infinity when unknown. */
function fdLimit(): number {
  if (fdLimitCache === undefined) {
    try {
      const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
      fdLimitCache = m && m[1] !== 'unlimited' ? Number(m[1]) : Number.POSITIVE_INFINITY;
    } catch {
      fdLimitCache = Number.POSITIVE_INFINITY;
    }
  }
  return fdLimitCache;
}

/**
 * How many connections may wait for their instance at once: as many as the fds left allow (so a
 * small RLIMIT_NOFILE goes to running instances, not to connections held unserved), at least one,
 * at most MAX_STARTS_IN_FLIGHT (spawns overlap, which keeps the connection rate up).
 */
function startsAllowed(): number {
  const limit = fdLimit();
  if (!Number.isFinite(limit)) return MAX_STARTS_IN_FLIGHT;
  // Far from the limit (the usual case) a count at most FD_COUNT_TTL_MS old is enough: within that
  // time what is accepted cannot use up the margin, and /proc/self/fd is not listed per
  // connection. Near the limit it is counted each time.
  const now = performance.now();
  if (fdCount && now - fdCount.at < FD_COUNT_TTL_MS && limit - fdCount.open >= FD_COUNT_MARGIN)
    return MAX_STARTS_IN_FLIGHT;
  let open: number;
  try {
    open = readdirSync('/proc/self/fd').length;
  } catch {
    return MAX_STARTS_IN_FLIGHT;
  }
  fdCount = { open, at: now };
  return Math.max(1, Math.min(MAX_STARTS_IN_FLIGHT, Math.floor((limit - open) / FDS_PER_START)));
}

/** The last count of open fds (startsAllowed()). */
let fdCount: { open: number; at: number } | undefined;
const FD_COUNT_TTL_MS = 250;
/**
 * Free fds above which a recent count is trusted: what the waiting connections can take, plus two
 * fds (pidfd, output capture) for each of the ~1900 instances 250 ms at 7500 connections/s start.
 */
const FD_COUNT_MARGIN = MAX_STARTS_IN_FLIGHT * FDS_PER_START + 3840;

const usecToMs = (usec: number): number => Math.max(0, Math.round(usec / 1000));

export class ActivationEngine extends EventEmitter<EngineEvents> {
  private readonly log: Logger;
  private native: NativeApi | undefined;
  private readonly sockets = new Map<string, SocketRuntime>();
  private readonly serviceDefs = new Map<string, ServiceUnit>();
  private readonly templates = new Map<string, ServiceTemplate>();
  private readonly services = new Map<string, ServiceRuntime>();
  private readonly instantiate: TemplateResolver;
  private stopping = false;
  private started = false;
  /** Accept=yes connections accepted whose instance is not spawned yet (see startsAllowed()). */
  private startsInFlight = 0;
  /** Sockets that stopped accepting until a spawn completes. */
  private readonly acceptPaused = new Set<SocketRuntime>();
  /** Ports with an accept scheduled (scheduleAccept()). */
  private readonly acceptScheduled = new WeakSet<OpenedPort>();
  /** The notify socket and output capture the services share (service-channels.ts). */
  private readonly channels: ServiceChannels;

  constructor(private readonly options: EngineOptions = {}) {
    super();
    this.log = options.logger ?? silentLogger;
    this.native = options.native;
    this.instantiate = options.instantiate ?? defaultTemplateResolver;
    this.channels = new ServiceChannels(this.log, options);
  }

  /** Opens every socket and starts watching. Sockets that cannot be opened are `failed`; the rest run. */
  async start(units: EngineUnits): Promise<StartReport> {
    if (this.started) throw new ActivationError('ENGINE_STATE', 'engine already started; use reload()');
    this.native ??= await loadNative();
    this.channels.open(this.native);
    this.started = true;
    this.stopping = false;
    // A stopped engine can be started again: nothing of the previous run is kept.
    this.sockets.clear();
    this.services.clear();
    this.setDefinitions(units);
    await this.instantiateSocketServices(units.sockets);
    const report: StartReport = { listening: [], failed: [] };
    for (const unit of units.sockets) this.startSocketRuntime(unit, report);
    return report;
  }

  /**
   * An Accept=no socket whose service is an instance (`foo@bar.socket` → `foo@bar.service`) gets
   * it from the template `foo@.service`, as systemd loads instances on demand.
   */
  private async instantiateSocketServices(sockets: readonly SocketUnit[]): Promise<void> {
    for (const socket of sockets) {
      if (socket.accept) continue;
      const name = serviceNameOf(socket);
      if (this.serviceDefs.has(name)) continue;
      const template = this.templates.get(templateOf(name) ?? '');
      if (!template || templateOf(name) === name) continue;
      try {
        this.serviceDefs.set(name, await this.instantiate(template, name));
        this.serviceRuntime(name);
      } catch (err) {
        this.log.error(`Failed to load ${name}: ${messageOf(err)}`, { unit: socket.name });
      }
    }
  }

  /** Starts (again) one socket unit, e.g. after it failed (`systemctl restart foo.socket`). */
  startSocket(name: string): StartReport {
    const sock = this.sockets.get(name);
    if (!sock) throw new ActivationError('ENGINE_STATE', `unknown socket unit ${name}`, { unit: name });
    const report: StartReport = { listening: [], failed: [] };
    if (sock.state === 'listening' || sock.state === 'running') {
      report.listening.push(name);
      return report;
    }
    this.sockets.delete(name);
    this.startSocketRuntime(sock.unit, report);
    return report;
  }

  private setDefinitions(units: EngineUnits): void {
    this.serviceDefs.clear();
    for (const s of units.services ?? []) this.serviceDefs.set(s.name, s);
    const previous = new Map(this.templates);
    this.templates.clear();
    // One listing of the search paths and one executable check per path for all templates.
    const shared: SnapshotCache = { listing: searchPathListing(), executables: new Map() };
    for (const t of units.templates ?? []) {
      const loaded = this.loadTemplate(t, previous.get(t.name), shared);
      if (loaded) this.templates.set(t.name, loaded);
    }
    for (const [name, rt] of this.services) {
      const def = this.serviceDefs.get(name);
      if (def) {
        rt.process.unit = def;
        rt.startLimit = this.updatedLimit(rt.startLimit, def.unit.startLimitIntervalUsec, def.unit.startLimitBurst);
      } else if (!rt.process.running) {
        this.services.delete(name);
      }
    }
    // Every known service shows up in status(), started or not.
    for (const name of this.serviceDefs.keys()) this.serviceRuntime(name);
  }

  /**
   * A template read into memory once (instances never touch the disk). One that no longer loads
   * keeps its previous text, with a warning, so that its socket keeps serving.
   */
  private loadTemplate(
    t: ServiceTemplate | ServiceUnit,
    previous: ServiceTemplate | undefined,
    shared?: SnapshotCache,
  ): ServiceTemplate | undefined {
    if (isServiceUnit(t) || t.text !== undefined || !t.file) return t;
    try {
      return snapshotTemplate(t, shared);
    } catch (err) {
      if (previous) {
        this.log.warn(`${messageOf(err)}; new connections keep using its previous configuration.`, { unit: t.name });
        return previous;
      }
      this.log.error(messageOf(err), { unit: t.name });
      return undefined;
    }
  }

  private updatedLimit(old: RateLimit, intervalUsec: number, burst: number): RateLimit {
    return old.intervalUsec === intervalUsec && old.burst === burst ? old : new RateLimit(intervalUsec, burst);
  }

  private startSocketRuntime(unit: SocketUnit, report: StartReport, carried?: Carried): void {
    const native = this.requireNative();
    const limits = carried?.limits ?? new ConnectionLimits(unit.maxConnections, unit.maxConnectionsPerSource);
    limits.maxConnections = unit.maxConnections;
    limits.maxPerSource = unit.maxConnectionsPerSource;
    const sock: SocketRuntime = {
      unit,
      opened: unit,
      state: 'dead',
      result: 'success',
      ports: [],
      watches: [],
      triggerLimit: new RateLimit(unit.triggerLimitIntervalUsec, unit.triggerLimitBurst),
      limits,
      counters: carried?.counters ?? { accepted: 0, refused: 0, triggers: 0 },
      nAccepted: carried?.nAccepted ?? 0,
      instances: carried?.instances ?? new Set(),
      lent: false,
    };
    this.sockets.set(unit.name, sock);
    try {
      if (
        unit.execStartPre.length + unit.execStartPost.length + unit.execStopPre.length + unit.execStopPost.length >
        0
      ) {
        this.log.warn(
          'ExecStartPre=/ExecStartPost=/ExecStopPre=/ExecStopPost= in socket units are not supported, ignoring.',
          { unit: unit.name },
        );
      }
      this.checkTarget(unit);
      sock.ports = openPorts(unit, native, this.log);
      for (const p of sock.ports) {
        this.log.info(
          `Listening on ${p.local ? formatSockAddr(p.local) : p.entry.value} (${p.transport}) as fd ${p.fd}.`,
          { unit: unit.name },
        );
      }
      this.enterListening(sock);
      report.listening.push(unit.name);
    } catch (err) {
      const code = err instanceof ActivationError ? err.code : undefined;
      this.log.error(messageOf(err), { unit: unit.name });
      this.enterFailed(sock, 'resources', messageOf(err));
      report.failed.push({ unit: unit.name, error: messageOf(err), ...(code ? { code } : {}) });
    }
  }

  /** systemd refuses to start a socket whose service is not loaded. */
  private checkTarget(unit: SocketUnit): void {
    if (unit.accept) {
      const t = templateNameFor(unit.name);
      if (!this.templates.has(t)) {
        throw new ActivationError(
          'TEMPLATE_NOT_FOUND',
          `Service ${t.replace('@.', '@internal.')} not loaded, socket cannot be started.`,
          { unit: unit.name },
        );
      }
    } else {
      const s = serviceNameOf(unit);
      if (!this.serviceDefs.has(s))
        throw new ActivationError('SERVICE_NOT_FOUND', `Service ${s} not loaded, socket cannot be started.`, {
          unit: unit.name,
        });
    }
  }

  private requireNative(): NativeApi {
    if (!this.native) throw new ActivationError('ENGINE_STATE', 'engine not started');
    return this.native;
  }

  private setSocketState(sock: SocketRuntime, state: SocketState, result?: SocketResult): void {
    if (result !== undefined) sock.result = result;
    if (sock.state === state && result === undefined) return;
    sock.state = state;
    this.emit('socket-state', { socket: sock.unit.name, state, result: sock.result });
  }

  private enterListening(sock: SocketRuntime): void {
    const native = this.requireNative();
    if (sock.lent) {
      // Back from the service: the daemon polls with non-blocking fds again.
      for (const p of sock.ports) native.setNonBlocking(p.fd, true);
      sock.lent = false;
    }
    this.unwatch(sock);
    for (const port of sock.ports) {
      const onReadable = (error: Error | null): void => {
        if (error) {
          this.log.error(`Failed to poll ${port.entry.value}: ${error.message}`, { unit: sock.unit.name });
          if (sock.state === 'listening') this.enterFailed(sock, 'resources', error.message);
          return;
        }
        if (!this.pollAllowed(sock)) return;
        if (sock.unit.accept) this.onAcceptReadable(sock, port);
        else this.onTrigger(sock);
      };
      sock.watches.push(native.watchReadable(port.fd, onReadable));
    }
    this.setSocketState(sock, 'listening');
  }

  private unwatch(sock: SocketRuntime): void {
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
    this.log.warn(`Poll limit hit (PollLimitBurst=${u.pollLimitBurst} in ${ms} ms), pausing polling for ${ms} ms.`, {
      unit: u.name,
    });
    this.unwatch(sock);
    sock.pollPause = setTimeout(() => {
      delete sock.pollPause;
      lim.reset();
      if (sock.state === 'listening' && !this.stopping && this.sockets.get(u.name) === sock) this.enterListening(sock);
    }, ms);
    return false;
  }

  private enterFailed(sock: SocketRuntime, result: SocketResult, error?: string): void {
    this.unwatch(sock);
    closePorts(sock.ports, this.requireNative(), sock.unit.removeOnStop);
    sock.ports = [];
    sock.lent = false;
    if (error !== undefined) sock.error = error;
    if (result !== 'resources' || error === undefined)
      this.log.warn(`Failed with result '${result}'.`, { unit: sock.unit.name });
    this.setSocketState(sock, 'failed', result);
  }

  private triggerLimitHit(sock: SocketRuntime): void {
    this.log.warn('Trigger limit hit, refusing further activation.', { unit: sock.unit.name });
    this.enterFailed(sock, 'trigger-limit-hit', 'Trigger limit hit, refusing further activation.');
  }

  // ---- Accept=no -------------------------------------------------------------------------------

  private onTrigger(sock: SocketRuntime): void {
    if (sock.state !== 'listening' || this.stopping) return;
    // Stop polling first: the watch is level-triggered and the service has not taken the data yet.
    this.unwatch(sock);
    if (!sock.triggerLimit.below()) {
      this.triggerLimitHit(sock);
      return;
    }
    sock.counters.triggers += 1;
    const name = serviceNameOf(sock.unit);
    this.emit('trigger', { socket: sock.unit.name, service: name });
    const svc = this.serviceRuntime(name);
    if (!svc) {
      this.log.error(`Service ${name} not loaded, socket cannot be started.`, { unit: sock.unit.name });
      this.enterFailed(sock, 'resources', `Service ${name} not loaded`);
      return;
    }
    void this.startService(svc, sock);
  }

  /** How services are run (service-channels.ts). */
  private serviceOptions(): ServiceProcessOptions {
    return this.channels.processOptions(this.native);
  }

  private serviceRuntime(name: string): ServiceRuntime | undefined {
    const existing = this.services.get(name);
    if (existing) return existing;
    const def = this.serviceDefs.get(name);
    if (!def) return undefined;
    const process = new ServiceProcess(def, this.serviceOptions());
    const rt: ServiceRuntime = {
      process,
      startLimit: new RateLimit(def.unit.startLimitIntervalUsec, def.unit.startLimitBurst),
      starting: false,
    };
    process.on('state', (state) =>
      this.emit('service-state', { service: name, state, ...(process.pid !== undefined ? { pid: process.pid } : {}) }),
    );
    process.on('exit', (exit) => this.onServiceExit(rt, exit));
    this.services.set(name, rt);
    return rt;
  }

  /** The sockets whose fds a service gets: those that trigger it, plus its Sockets=. */
  private socketsFor(service: ServiceUnit): SocketRuntime[] {
    const out: SocketRuntime[] = [];
    for (const s of this.sockets.values()) {
      if (s.unit.accept || s.ports.length === 0) continue;
      if (serviceNameOf(s.unit) === service.name || service.sockets.includes(s.unit.name)) out.push(s);
    }
    return out;
  }

  private async startService(svc: ServiceRuntime, trigger: SocketRuntime | undefined): Promise<void> {
    if (svc.starting || svc.process.running || this.stopping) {
      // Someone else started it: this socket waits for the service to go away, like its siblings.
      if (trigger && trigger.state === 'listening' && !this.stopping) this.setSocketState(trigger, 'running');
      return;
    }
    if (svc.restartTimer) {
      // As systemd: a start request during auto-restart waits for RestartSec= to pass
      // (service_start() returns -EAGAIN and the job stays queued); the restart takes the fds.
      if (trigger && trigger.state === 'listening') this.setSocketState(trigger, 'running');
      return;
    }
    const unit = svc.process.unit;
    const sockets = this.socketsFor(unit).filter((s) => s.state === 'listening' || s.state === 'running');
    if (!svc.startLimit.below()) {
      this.log.warn('Start request repeated too quickly.', { unit: unit.name });
      this.log.warn("Failed with result 'start-limit-hit'.", { unit: unit.name });
      markStartLimitHit(svc.process);
      for (const s of sockets)
        this.enterFailed(s, 'service-start-limit-hit', `Service ${unit.name} hit its start limit`);
      return;
    }
    const native = this.requireNative();
    for (const s of sockets) {
      this.unwatch(s);
      if (!unit.nonBlocking) for (const p of s.ports) native.setNonBlocking(p.fd, false);
      s.lent = true;
      this.setSocketState(s, 'running');
    }
    const ports = sockets.flatMap((s) =>
      s.ports.map((p) => ({ fd: p.fd, name: s.unit.fileDescriptorName ?? s.unit.name })),
    );
    const ctx: StartContext = {};
    if (unit.standardInput === 'socket') {
      if (ports.length !== 1) {
        this.log.error(ports.length === 0 ? 'Got no socket.' : 'Got more than one socket.', { unit: unit.name });
        for (const s of sockets) this.enterListeningLater(s);
        return;
      }
      ctx.socketStdio = (ports[0] as { fd: number }).fd;
    } else {
      ctx.fds = ports.map((p) => p.fd);
      ctx.fdNames = ports.map((p) => p.name);
    }
    svc.starting = true;
    try {
      const pid = await svc.process.start(ctx);
      this.emit('started', { service: unit.name, pid, ...(trigger ? { socket: trigger.unit.name } : {}) });
    } catch (err) {
      this.log.error(`Failed to start: ${messageOf(err)}`, { unit: unit.name });
      for (const s of sockets) this.enterListeningLater(s);
    } finally {
      svc.starting = false;
    }
  }

  /** Back to polling on the next tick, so that a failing start cannot recurse into itself. */
  private enterListeningLater(sock: SocketRuntime): void {
    setImmediate(() => {
      if (sock.state !== 'running' || this.stopping || this.sockets.get(sock.unit.name) !== sock) return;
      if (sock.pending) this.applyPending(sock);
      else this.enterListening(sock);
    });
  }

  private onServiceExit(svc: ServiceRuntime, exit: ServiceExit): void {
    this.emit('service-exit', exit);
    if (this.stopping) return;
    const unit = svc.process.unit;
    if (exit.restart) {
      svc.process.restarts += 1;
      const delay = usecToMs(restartDelayUsec(unit, svc.process.restarts));
      this.log.info(`Scheduled restart job in ${delay} ms, restart counter is at ${svc.process.restarts}.`, {
        unit: unit.name,
      });
      svc.restartTimer = setTimeout(() => {
        delete svc.restartTimer;
        svc.process.clearAutoRestart();
        void this.startService(svc, undefined);
      }, delay);
    }
    // The socket polls again while the service is dead or waiting for its restart (socket.c
    // socket_trigger_notify()); data queued meanwhile triggers the next start.
    for (const s of this.socketsFor(unit)) {
      if (s.state !== 'running') continue;
      if (s.unit.flushPending && !exit.restart) this.flushPending(s);
      this.enterListeningLater(s);
    }
  }

  /**
   * FlushPending=yes: connections queued while the service ran are accepted and closed
   * (socket.c flush_ports()). Datagram sockets and FIFOs would need a read the addon does not offer:
   * they keep their data (logged).
   */
  private flushPending(sock: SocketRuntime): void {
    const native = this.requireNative();
    for (const p of sock.ports) {
      if (p.entry.kind === 'stream' || p.entry.kind === 'seqpacket') {
        native.setNonBlocking(p.fd, true);
        for (let conn = native.accept(p.fd); conn !== null; conn = native.accept(p.fd)) native.close(conn.fd);
      } else {
        this.log.debug(`FlushPending=yes: ${p.entry.value} is not a stream socket, not flushed.`, {
          unit: sock.unit.name,
        });
      }
    }
  }

  // ---- Accept=yes ------------------------------------------------------------------------------

  /**
   * Up to ACCEPT_BATCH connections per readiness event (systemd's socket_dispatch_io() takes one):
   * each instance's spawn is under way before the next accept, and no more connections wait for
   * their spawn than the fds left allow (startsAllowed()), so a small fd budget (RLIMIT_NOFILE)
   * serves as many connections as it can instead of holding them all unserved. The watch is
   * level-triggered: a longer queue brings the next event at once.
   */
  private onAcceptReadable(sock: SocketRuntime, port: OpenedPort): void {
    const native = this.requireNative();
    // A few connections per event when the queue holds several (each one's spawn is dispatched
    // before the next accept); the budget and EMFILE are checked before every accept.
    for (let n = 0; n < ACCEPT_BATCH; n++) {
      if (sock.state !== 'listening' || this.stopping) return;
      if (this.startsInFlight > 0 && this.startsInFlight >= startsAllowed()) {
        // Enough connections wait for their instance to be spawned for the fds left: accepting more
        // now would hold their fds unserved. Stop polling until a spawn completes (startInstance()).
        this.unwatch(sock);
        this.acceptPaused.add(sock);
        return;
      }
      let conn: AcceptedConnection | null;
      try {
        conn = native.accept(port.fd);
      } catch (err) {
        const errno = errnoOf(err);
        if (errno === 'EMFILE' || errno === 'ENFILE') {
          this.waitForFds(sock, messageOf(err));
          return;
        }
        this.log.warn(`Failed to accept connection: ${messageOf(err)}`, { unit: sock.unit.name });
        return;
      }
      if (conn === null) return;
      this.onConnection(sock, conn);
    }
    // The queue may hold more: the next accepts come in their own macrotask, after what these
    // connections' starts could do meanwhile (the readiness watch alone may not fire again for
    // connections that were already queued).
    this.scheduleAccept(sock, port);
  }

  /** One more accept on `port` soon (at most one pending per port). */
  private scheduleAccept(sock: SocketRuntime, port: OpenedPort): void {
    if (this.acceptScheduled.has(port)) return;
    this.acceptScheduled.add(port);
    setImmediate(() => {
      this.acceptScheduled.delete(port);
      if (this.sockets.get(sock.unit.name) === sock && sock.ports.includes(port)) this.onAcceptReadable(sock, port);
    });
  }

  /** A spawn completed: the sockets that paused for it poll again (the next accept re-checks the budget). */
  private resumeAccepting(): void {
    if (this.acceptPaused.size === 0) return;
    const paused = [...this.acceptPaused];
    this.acceptPaused.clear();
    for (const sock of paused) {
      if (sock.state === 'listening' && !this.stopping && !sock.fdWait && this.sockets.get(sock.unit.name) === sock) {
        this.enterListening(sock);
        for (const port of sock.ports) this.scheduleAccept(sock, port);
      }
    }
  }

  /**
   * Out of fds: stop polling (a level-triggered watch would spin) until an instance of this socket
   * exits, or a second has passed when none runs. Logged once per stall.
   */
  private waitForFds(sock: SocketRuntime, why: string): void {
    if (sock.fdWait) return;
    this.log.warn(
      `Failed to accept connection: ${why}; waiting for a running instance to exit before accepting more.`,
      { unit: sock.unit.name },
    );
    this.unwatch(sock);
    const resume = (): void => {
      if (!sock.fdWait) return;
      clearTimeout(sock.fdWait);
      delete sock.fdWait;
      if (sock.state === 'listening' && !this.stopping && this.sockets.get(sock.unit.name) === sock) {
        this.enterListening(sock);
        for (const port of sock.ports) this.scheduleAccept(sock, port);
      }
    };
    sock.fdWait = setTimeout(resume, 1000);
    sock.resumeAccept = resume;
  }

  private refuse(
    sock: SocketRuntime,
    conn: AcceptedConnection,
    reason: 'max-connections' | 'max-connections-per-source' | 'trigger-limit-hit' | 'error',
    message: string,
  ): void {
    this.requireNative().close(conn.fd);
    sock.counters.refused += 1;
    this.emit('refused', { socket: sock.unit.name, reason, remote: conn.remote, message });
  }

  private onConnection(sock: SocketRuntime, conn: AcceptedConnection): void {
    const native = this.requireNative();
    if (!sock.triggerLimit.below()) {
      this.refuse(sock, conn, 'trigger-limit-hit', 'Trigger limit hit, refusing further activation.');
      this.triggerLimitHit(sock);
      return;
    }
    sock.counters.triggers += 1;
    let creds = null;
    if (conn.remote.family === 'unix') {
      try {
        creds = native.peerCredentials(conn.fd);
      } catch {
        creds = null;
      }
    }
    const admission = sock.limits.admit(
      sourceKey(conn.remote, creds),
      prettyAddress(conn.remote) ?? sourceKey(conn.remote, creds),
    );
    if (!admission.ok) {
      this.log.warn(admission.message, { unit: sock.unit.name });
      this.refuse(sock, conn, admission.reason, admission.message);
      return;
    }
    sock.counters.accepted += 1;
    const instance = connectionInstance(sock.nAccepted, conn.local, conn.remote, creds);
    sock.nAccepted += 1;
    const name = instanceServiceName(sock.unit.name, instance);
    this.emit('accepted', { socket: sock.unit.name, service: name, instance, remote: conn.remote, local: conn.local });
    void this.startInstance(sock, conn, name, admission.release);
  }

  private async startInstance(
    sock: SocketRuntime,
    conn: AcceptedConnection,
    name: string,
    release: () => void,
  ): Promise<void> {
    const native = this.requireNative();
    let svc: ServiceProcess | undefined;
    this.startsInFlight += 1;
    try {
      const templateName = templateNameFor(sock.unit.name);
      const template = this.templates.get(templateName);
      if (!template)
        throw new ActivationError('TEMPLATE_NOT_FOUND', `Service ${templateName} not loaded`, { unit: sock.unit.name });
      const unit = await this.instantiate(template, name);
      const proc = new ServiceProcess(unit, this.serviceOptions());
      svc = proc;
      // The set (and the limits) move to a reopened runtime on reload: the instance stays tracked.
      const instances = sock.instances;
      instances.add(proc);
      proc.on('state', (state) =>
        this.emit('service-state', { service: name, state, ...(proc.pid !== undefined ? { pid: proc.pid } : {}) }),
      );
      proc.on('exit', (exit) => {
        release();
        instances.delete(proc);
        this.emit('service-exit', exit);
        // An fd came free: a socket that ran out of them accepts again.
        this.sockets.get(sock.unit.name)?.resumeAccept?.();
      });
      if (this.stopping) throw new ActivationError('ENGINE_STATE', 'engine is stopping');
      if (!unit.nonBlocking) native.setNonBlocking(conn.fd, false);
      const env = remoteEnvironment(conn.remote);
      const ctx: StartContext =
        unit.standardInput === 'socket'
          ? { socketStdio: conn.fd, env }
          : { fds: [conn.fd], fdNames: [sock.unit.fileDescriptorName ?? 'connection'], env };
      const pid = await proc.start(ctx);
      this.emit('started', { service: name, pid, socket: sock.unit.name });
    } catch (err) {
      release();
      if (svc) sock.instances.delete(svc);
      this.log.error(`Failed to start ${name}: ${messageOf(err)}`, { unit: sock.unit.name });
    } finally {
      // The child has its own copy; the daemon's must go, or the peer never sees EOF.
      native.close(conn.fd);
      this.startsInFlight -= 1;
      this.resumeAccepting();
    }
  }

  // ---- reload / stop / status ------------------------------------------------------------------

  /**
   * Applies a new set of units, as `systemctl daemon-reload` does: nothing that serves is closed.
   * - unchanged opening parameters: the fds and watches are kept (no connection refused or lost);
   * - a serving socket missing from `units` (its file failed to load, or is gone) keeps its fds and
   *   its previous definition (and its service's), with a warning;
   * - changed Listen=/socket settings: a socket whose service holds the fds keeps them until that
   *   service exits, then is reopened; an idle one is reopened now (and keeps the old fds if the new
   *   ones cannot be opened). Accept=yes instances move with their socket: still counted and stopped.
   * Running services keep running with the definition they were started with.
   */
  async reload(units: EngineUnits): Promise<ReloadReport> {
    if (!this.started) return { ...(await this.start(units)), kept: [], reopened: [], removed: [] };
    const report: ReloadReport = { listening: [], failed: [], kept: [], reopened: [], removed: [] };
    units = this.keepServing(units);
    this.setDefinitions(units);
    await this.instantiateSocketServices(units.sockets);
    const wanted = new Map(units.sockets.map((u) => [u.name, u]));
    for (const [name, sock] of this.sockets) {
      // A failed socket whose Accept=yes instances still run stays listed: they are tracked and stopped.
      if (wanted.has(name) || sock.instances.size > 0) continue;
      this.closeSocket(sock);
      this.sockets.delete(name);
      report.removed.push(name);
    }
    for (const unit of units.sockets) {
      const sock = this.sockets.get(unit.name);
      if (sock && sock.state !== 'failed' && sock.state !== 'dead' && keyOf(sock) === socketIdentity(unit)) {
        sock.unit = unit;
        delete sock.pending;
        this.applyRuntimeFields(sock, unit);
        report.kept.push(unit.name);
        report.listening.push(unit.name);
        continue;
      }
      if (sock && serving(sock) && sock.lent) {
        // The service holds these fds: closing them would refuse connections (and a reopen on the
        // same address fails with EADDRINUSE). The new settings wait for the service to exit.
        sock.pending = unit;
        this.applyRuntimeFields(sock, unit);
        this.log.warn(
          'Socket settings changed while its service holds the sockets; the new settings apply when the service has exited.',
          { unit: unit.name },
        );
        report.kept.push(unit.name);
        report.listening.push(unit.name);
        continue;
      }
      if (sock && serving(sock)) {
        this.reopen(sock, unit, report);
        continue;
      }
      if (sock) {
        this.closeSocket(sock);
        this.sockets.delete(unit.name);
        report.reopened.push(unit.name);
      }
      this.startSocketRuntime(unit, report, sock ? carriedFrom(sock) : undefined);
    }
    return report;
  }

  /**
   * `units` plus every serving socket it lacks, and the service or template those sockets need, all
   * with their current definitions (systemd keeps an active unit loaded whatever its file became).
   */
  private keepServing(units: EngineUnits): EngineUnits {
    const sockets = [...units.sockets];
    const services = [...(units.services ?? [])];
    const templates = [...(units.templates ?? [])];
    const names = new Set(sockets.map((u) => u.name));
    for (const sock of this.sockets.values()) {
      if (names.has(sock.unit.name) || !serving(sock)) continue;
      this.log.warn('Unit file is gone or failed to load; the socket keeps serving with its previous configuration.', {
        unit: sock.unit.name,
      });
      sockets.push(sock.pending ?? sock.unit);
    }
    const serviceNames = new Set(services.map((s) => s.name));
    const templateNames = new Set(templates.map((t) => t.name));
    for (const unit of sockets) {
      const sock = this.sockets.get(unit.name);
      if (!sock || !serving(sock)) continue;
      if (unit.accept) {
        const t = templateNameFor(unit.name);
        const old = this.templates.get(t);
        if (!templateNames.has(t) && old) {
          this.log.warn(`${t} is gone or failed to load; new connections keep using its previous configuration.`, {
            unit: unit.name,
          });
          templates.push(old);
          templateNames.add(t);
        }
      } else {
        const n = serviceNameOf(unit);
        const old = this.serviceDefs.get(n);
        if (!serviceNames.has(n) && old) {
          this.log.warn(`${n} is gone or failed to load; the socket keeps activating its previous configuration.`, {
            unit: unit.name,
          });
          services.push(old);
          serviceNames.add(n);
        }
      }
    }
    return { sockets, services, templates };
  }

  /** Settings that never need new fds: limits and trigger rate. */
  private applyRuntimeFields(sock: SocketRuntime, unit: SocketUnit): void {
    sock.triggerLimit = this.updatedLimit(sock.triggerLimit, unit.triggerLimitIntervalUsec, unit.triggerLimitBurst);
    sock.limits.maxConnections = unit.maxConnections;
    sock.limits.maxPerSource = unit.maxConnectionsPerSource;
  }

  /** Closes an idle socket's fds and opens them with `unit`'s settings; on failure the previous ones come back. */
  private reopen(sock: SocketRuntime, unit: SocketUnit, report: StartReport & { reopened?: string[] }): void {
    const previous = sock.unit;
    const carried = carriedFrom(sock);
    this.closeSocket(sock);
    this.sockets.delete(unit.name);
    const attempt: StartReport = { listening: [], failed: [] };
    this.startSocketRuntime(unit, attempt, carried);
    if (attempt.failed.length === 0) {
      report.reopened?.push(unit.name);
      report.listening.push(unit.name);
      return;
    }
    this.log.warn(
      `New socket settings could not be applied (${attempt.failed[0]?.error ?? 'error'}); keeping the previous ones.`,
      { unit: unit.name },
    );
    this.sockets.delete(unit.name);
    this.startSocketRuntime(previous, report, carried);
  }

  /** The service that held the fds has exited: the settings a reload brought in apply now. */
  private applyPending(sock: SocketRuntime): void {
    const unit = sock.pending;
    if (!unit) return;
    delete sock.pending;
    this.log.info('Applying the socket settings changed while its service ran.', { unit: unit.name });
    this.reopen(sock, unit, { listening: [], failed: [] });
  }

  private closeSocket(sock: SocketRuntime): void {
    this.unwatch(sock);
    if (sock.fdWait) {
      clearTimeout(sock.fdWait);
      delete sock.fdWait;
    }
    if (sock.ports.length > 0) closePorts(sock.ports, this.requireNative(), sock.unit.removeOnStop);
    sock.ports = [];
    this.setSocketState(sock, 'dead');
  }

  // ---- per-unit control (mptcpd-lite start|stop|restart|reload UNIT) ------------------------------

  /** Whether `name` is a loaded socket or service unit. */
  hasUnit(name: string): boolean {
    return (
      this.sockets.has(name) ||
      this.services.has(name) ||
      this.serviceDefs.has(name) ||
      this.instance(name) !== undefined
    );
  }

  /** A running Accept=yes instance by name (`echo@3-127.0.0.1:80-127.0.0.1:5000.service`). */
  private instance(name: string): { sock: SocketRuntime; proc: ServiceProcess } | undefined {
    for (const sock of this.sockets.values())
      for (const proc of sock.instances) if (proc.name === name) return { sock, proc };
    return undefined;
  }

  private requireService(name: string): ServiceRuntime {
    const svc = this.serviceRuntime(name);
    if (!svc) throw new ActivationError('UNIT_NOT_FOUND', `Unit ${name} not found.`, { unit: name });
    return svc;
  }

  /**
   * `start UNIT`: a socket listens again; a service starts now with its sockets' fds (a scheduled
   * auto-restart happens at once). Rejects when the start fails.
   */
  async startUnit(name: string): Promise<void> {
    if (!this.started) throw new ActivationError('ENGINE_STATE', 'engine not started');
    if (this.sockets.has(name)) {
      const r = this.startSocket(name);
      const failed = r.failed[0];
      if (failed) throw new ActivationError('SOCKET_OPEN_FAILED', failed.error, { unit: name });
      return;
    }
    const svc = this.requireService(name);
    if (svc.process.running || svc.starting) return;
    if (svc.restartTimer) {
      clearTimeout(svc.restartTimer);
      delete svc.restartTimer;
      svc.process.clearAutoRestart();
    }
    await this.startService(svc, undefined);
    if (svc.process.state === 'failed')
      throw new ActivationError(
        'EXEC_FAILED',
        `Job for ${name} failed (result: ${svc.process.lastResult ?? 'resources'}).`,
        { unit: name },
      );
  }

  /** `stop UNIT`: a socket closes its fds (dead); a service stops (its sockets keep listening). */
  async stopUnit(name: string): Promise<void> {
    const sock = this.sockets.get(name);
    if (sock) {
      this.closeSocket(sock);
      return;
    }
    const inst = this.instance(name);
    if (inst) {
      // An Accept=yes instance ends with its connection; there is nothing to start again.
      await inst.proc.stop();
      return;
    }
    const svc = this.requireService(name);
    if (svc.restartTimer) {
      clearTimeout(svc.restartTimer);
      delete svc.restartTimer;
    }
    svc.process.clearAutoRestart();
    await svc.process.stop();
  }

  /**
   * `restart UNIT`: stop, then start. For a socket-activated (Accept=no) service the listening fds
   * stay open in the daemon throughout: connections queue in the backlog and the new process takes them.
   */
  async restartUnit(name: string): Promise<void> {
    if (this.sockets.has(name)) {
      const sock = this.sockets.get(name) as SocketRuntime;
      if (sock.state === 'running')
        throw new ActivationError('ENGINE_STATE', `Socket ${name} is in use by its service; stop the service first.`, {
          unit: name,
        });
      this.closeSocket(sock);
      await this.startUnit(name);
      return;
    }
    await this.stopUnit(name);
    await this.startUnit(name);
  }

  /** `reload UNIT`: ExecReload= or Type=notify-reload's signal. Sockets cannot reload (as systemd). */
  async reloadUnit(name: string): Promise<void> {
    if (this.sockets.has(name))
      throw new ActivationError('NOT_RELOADABLE', `Job type reload is not applicable for unit ${name}.`, {
        unit: name,
      });
    const inst = this.instance(name);
    if (inst) return inst.proc.reload();
    const svc = this.requireService(name);
    await svc.process.reload();
  }

  /** Every loaded unit with what `list-units`/`status UNIT` show. */
  listUnits(): UnitInfo[] {
    const names = [...new Set([...this.sockets.keys(), ...this.services.keys()])].sort();
    return names.map((n) => this.unitInfo(n)).filter((u): u is UnitInfo => u !== undefined);
  }

  /** One unit for `status UNIT`; undefined when no such unit is loaded. */
  unitInfo(name: string): UnitInfo | undefined {
    const sock = this.sockets.get(name);
    if (sock) {
      const status = this.socketStatus(sock);
      return {
        name,
        kind: 'socket',
        file: sock.unit.file,
        ...(sock.unit.unit.description !== undefined ? { description: sock.unit.unit.description } : {}),
        activeState:
          sock.state === 'listening' || sock.state === 'running'
            ? 'active'
            : sock.state === 'failed'
              ? 'failed'
              : 'inactive',
        subState: sock.state,
        result: sock.result,
        socket: status,
        triggers: [status.service],
        triggeredBy: [],
      };
    }
    const svc = this.services.get(name);
    const inst = svc ? undefined : this.instance(name);
    const p = svc?.process ?? inst?.proc;
    if (!p) return undefined;
    const snap = p.snapshot(true);
    const activeState = p.state === 'auto-restart' ? 'activating' : p.state;
    return {
      name,
      kind: 'service',
      file: p.unit.file,
      ...(p.unit.unit.description !== undefined ? { description: p.unit.unit.description } : {}),
      activeState,
      subState: snap.subState ?? 'dead',
      result: snap.result ?? 'success',
      service: snap,
      triggers: [],
      triggeredBy: inst ? [inst.sock.unit.name] : this.socketsFor(p.unit).map((s) => s.unit.name),
    };
  }

  /** Stops services (KillSignal=, TimeoutStopSec=), closes every fd, removes RemoveOnStop= nodes. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.stopping = true;
    for (const sock of this.sockets.values()) this.unwatch(sock);
    const stops: Array<Promise<void>> = [];
    for (const svc of this.services.values()) {
      if (svc.restartTimer) {
        clearTimeout(svc.restartTimer);
        delete svc.restartTimer;
      }
      stops.push(svc.process.stop());
    }
    for (const sock of this.sockets.values()) for (const inst of sock.instances) stops.push(inst.stop());
    await Promise.all(stops);
    for (const sock of this.sockets.values()) this.closeSocket(sock);
    // The daemon goes away: no fd store outlives it (FileDescriptorStorePreserve=yes included).
    for (const svc of this.services.values()) svc.process.fdStore.release();
    this.channels.close();
    this.started = false;
  }

  /** A JSON-serialisable snapshot for `mptcpd-lite status`. */
  status(): EngineStatus {
    const sockets: SocketStatus[] = [...this.sockets.values()].map((s) => this.socketStatus(s));
    const services: ServiceSnapshot[] = [...this.services.values()].map((s) => s.process.snapshot());
    for (const s of this.sockets.values()) for (const inst of s.instances) services.push(inst.snapshot());
    return { sockets, services };
  }

  private socketStatus(s: SocketRuntime): SocketStatus {
    const listen: ListenStatus[] = s.ports.map((p) => {
      const port = p.local ? portOf(p.local) : undefined;
      return {
        kind: p.entry.kind,
        value: p.entry.value,
        address: p.local ? formatSockAddr(p.local) : p.entry.value,
        ...(port !== undefined ? { port } : {}),
        transport: p.transport,
        protocol: p.protocol,
        fd: p.fd,
      };
    });
    return {
      name: s.unit.name,
      state: s.state,
      result: s.result,
      accept: s.unit.accept,
      service: s.unit.accept ? templateNameFor(s.unit.name) : serviceNameOf(s.unit),
      listen,
      counters: { ...s.counters },
      connections: s.limits.connections,
      ...(s.error !== undefined ? { error: s.error } : {}),
    };
  }

  /** The status of one socket unit, or undefined. */
  socket(name: string): SocketStatus | undefined {
    const s = this.sockets.get(name);
    return s ? this.socketStatus(s) : undefined;
  }
}
