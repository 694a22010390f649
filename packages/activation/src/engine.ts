/**
 * The activation engine: systemd's socket unit state machine (socket.c) for the subset that
 * mptcpd-lite needs. It owns the listening fds, watches them through @mptcp/native, and starts
 * services (Accept=no) or per-connection instances (Accept=yes).
 *
 * This class is the facade; the work is done by its parts, which share an EngineCore:
 * - socket-runtime.ts: opening, polling (PollLimit*=), lending, failing, closing, reopening listeners;
 * - service-runtime.ts: Accept=no services: start with the sockets' fds, Restart=, FlushPending=;
 * - accept-instances.ts: Accept=yes: accept, admission, one instance per connection, their tracking;
 * - limits.ts / spawn-budget.ts: trigger, start and connection limits, the fd budget of spawns;
 * - unit-definitions.ts, engine-reload.ts, engine-status.ts: definitions, daemon-reload, status.
 */
import type { CgroupTree } from './cgroup.js';
import { EventEmitter } from 'node:events';
import { AcceptInstances } from './accept-instances.js';
import { Dependencies } from './dependencies.js';
import { EngineCore } from './engine-core.js';
import { keepServing, reloadSockets } from './engine-reload.js';
import { serviceUnitInfo, socketStatus, socketUnitInfo } from './engine-status.js';
import type {
  EngineEvents,
  EngineStatus,
  EngineUnits,
  ReloadReport,
  SocketStatus,
  StartReport,
  UnitInfo,
} from './engine-types.js';
import { ActivationError } from './errors.js';
import type { OutputMode, SpawnMethod } from './exec.js';
import { type Logger, silentLogger } from './logger.js';
import { type NativeApi, loadNative } from './native-binding.js';
import type { ServiceOutputSink } from './output-capture.js';
import { ServiceChannels } from './service-channels.js';
import type { ServiceSnapshot } from './service-process.js';
import { ServiceRuntimes } from './service-runtime.js';
import { SocketRuntimes } from './socket-runtime.js';
import { type TemplateResolver, defaultTemplateResolver } from './templates.js';
import { UnitDefinitions } from './unit-definitions.js';
import { clearUserCache } from './user.js';

export { socketIdentity } from './socket-runtime.js';
export { serviceNameOf } from './unit-definitions.js';

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
  /**
   * With `serviceOutput: 'log'`: receives each line a service writes (its unit, PID and text), apart
   * from the engine's own log messages. Default: `logger.info(text, { unit, pid, output: true })`.
   */
  onServiceOutput?: ServiceOutputSink;
  /**
   * Start services whose sandbox or privilege directives (PrivateTmp=, SystemCallFilter=, …) the
   * engine does not enforce, logging a warning per unit, instead of failing their processes with
   * systemd's exit status for that step (226/NAMESPACE, 228/SECCOMP, …). Default false.
   */
  allowUnenforcedSandbox?: boolean;
  /**
   * Each service run (and Accept=yes instance) in a cgroup v2 of its own under this tree (cgroup.ts
   * detectCgroups()), as systemd tracks units: stops signal the whole cgroup and wait until it is
   * empty. Needs the native launcher; without it (or without this option) the process groups.
   */
  cgroups?: CgroupTree;
}

export class ActivationEngine extends EventEmitter<EngineEvents> {
  private readonly core: EngineCore;
  private readonly defs: UnitDefinitions;
  private readonly sockets: SocketRuntimes;
  private readonly services: ServiceRuntimes;
  private readonly instances: AcceptInstances;
  private readonly deps: Dependencies;
  private started = false;

  constructor(options: EngineOptions = {}) {
    super();
    const log = options.logger ?? silentLogger;
    this.core = new EngineCore(log, this, new ServiceChannels(log, options), options.native);
    this.defs = new UnitDefinitions(log, options.instantiate ?? defaultTemplateResolver);
    this.sockets = new SocketRuntimes(this.core, {
      // A trigger is a start job: the service's Requires=/Wants=/… are pulled in (dependencies.ts).
      onReadable: (sock, port) =>
        sock.unit.accept
          ? this.instances.onReadable(sock, port)
          : this.deps.trigger(sock, () => this.services.onTrigger(sock)),
      checkTarget: (unit) => this.defs.checkTarget(unit),
    });
    this.services = new ServiceRuntimes(this.core, this.sockets, this.defs);
    this.deps = new Dependencies(this.core, this.defs, this.services, this.sockets, {
      startSocket: (name) => this.startOwn(name),
      stopUnit: (name) => this.stopOwn(name),
      startUnit: (name) => this.startUnit(name),
    });
    this.instances = new AcceptInstances(
      this.core,
      this.sockets,
      (name) => this.defs.templates.get(name),
      // An instance's start job pulls in its dependencies first (dependencies.ts).
      (template, name) => this.deps.beforeInstance(this.defs.instantiate(template, name)),
      (unit, exit, invocationId) => this.deps.afterInstance(unit, exit, invocationId),
    );
  }

  /** Opens every socket and starts watching. Sockets that cannot be opened are `failed`; the rest run. */
  async start(units: EngineUnits): Promise<StartReport> {
    if (this.started) throw new ActivationError('ENGINE_STATE', 'engine already started; use reload()');
    const core = this.core;
    core.native ??= await loadNative();
    core.channels.open(core.native);
    this.started = true;
    core.stopping = false;
    // A stopped engine can be started again: nothing of the previous run is kept.
    this.sockets.clear();
    this.services.clear();
    await this.define(units);
    const report: StartReport = { listening: [], failed: [] };
    this.sockets.openAll(units.sockets, report);
    // Sockets with ExecStartPre=/ExecStartPost= are listening (or failed) once those have run.
    await this.sockets.settled();
    return report;
  }

  /** New definitions, the services' runtimes updated, and Accept=no sockets' instance services created. */
  private async define(units: EngineUnits): Promise<void> {
    // User=/Group= are resolved from the user database as it is at each (re)load.
    clearUserCache();
    this.defs.set(units);
    // Instances started on demand (dependencies.ts) are loaded again from the new templates.
    await this.deps.reloaded();
    this.services.redefine();
    for (const name of await this.defs.instantiateSocketServices(units.sockets)) this.services.get(name);
  }

  /**
   * Starts (again) one socket unit, e.g. after it failed (`systemctl restart foo.socket`). A unit
   * with ExecStartPre=/ExecStartPost= is still starting on return: startUnit() waits for it.
   */
  startSocket(name: string): StartReport {
    const sock = this.sockets.get(name);
    if (!sock) throw new ActivationError('ENGINE_STATE', `unknown socket unit ${name}`, { unit: name });
    const report: StartReport = { listening: [], failed: [] };
    if (sock.state === 'listening' || sock.state === 'running') {
      report.listening.push(name);
      return report;
    }
    // Its control commands are running (a start or a stop): that goes on; startUnit() waits for it.
    if (sock.busy) return report;
    this.sockets.delete(name);
    // A reload that changed a socket with control commands left its new definition for the next start.
    this.sockets.open(sock.pending ?? sock.unit, report);
    return report;
  }

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
    units = keepServing(this.core, this.sockets, this.defs, units);
    await this.define(units);
    const report = reloadSockets(this.core, this.sockets, units);
    // Added sockets with ExecStartPre=/ExecStartPost=, removed ones with ExecStopPre=/ExecStopPost=.
    await this.sockets.settled();
    // Accept=yes sockets on the fast path take the new templates and limits: back to the regular path.
    this.instances.reloaded();
    return report;
  }

  // ---- per-unit control (mptcpd-lite start|stop|restart|reload UNIT) ------------------------------

  /** Whether `name` is a loaded socket or service unit. */
  hasUnit(name: string): boolean {
    return (
      this.sockets.has(name) ||
      this.services.has(name) ||
      this.defs.services.has(name) ||
      this.instances.find(name) !== undefined ||
      this.deps.knows(name)
    );
  }

  /**
   * `start UNIT`: a socket listens again; a service starts now with its sockets' fds (a scheduled
   * auto-restart happens at once). Rejects when the start fails.
   */
  async startUnit(name: string): Promise<void> {
    if (!this.started) throw new ActivationError('ENGINE_STATE', 'engine not started');
    // Requires=/Wants=/… pulled in, an instance loaded on demand (dependencies.ts); not for a
    // running Accept=yes instance (its connection's: startOwn() refuses it).
    if (this.instances.find(name)) return this.startOwn(name);
    await this.deps.start(name, () => this.startOwn(name));
  }

  /** The start of one unit, without its dependencies. */
  private async startOwn(name: string): Promise<void> {
    if (this.sockets.has(name)) {
      // Starting already, or stopping (systemd's job waits for the stop to finish).
      await this.sockets.get(name)?.busy;
      const r = this.startSocket(name);
      await this.sockets.get(name)?.busy;
      const failed = r.failed[0];
      if (failed)
        throw new ActivationError(failed.code === 'JOB_ASSERT' ? 'JOB_ASSERT' : 'SOCKET_OPEN_FAILED', failed.error, {
          unit: name,
        });
      return;
    }
    await this.services.startNow(name);
  }

  /**
   * `stop UNIT`: a socket closes its fds (dead), between ExecStopPre= and ExecStopPost= when it has
   * them; a service stops (its sockets keep listening).
   */
  async stopUnit(name: string): Promise<void> {
    // The units that Requires=/BindsTo= it stop first (dependencies.ts).
    await this.deps.stop(name, () => this.stopOwn(name));
  }

  /** The stop of one unit, without its dependencies. */
  private async stopOwn(name: string): Promise<void> {
    const sock = this.sockets.get(name);
    if (sock) {
      await this.sockets.stop(sock);
      return;
    }
    const inst = this.instances.find(name);
    if (inst) {
      // An Accept=yes instance ends with its connection; there is nothing to start again.
      await inst.proc.stop();
      return;
    }
    await this.services.stop(this.services.require(name));
  }

  /**
   * `restart UNIT`: stop, then start. For a socket-activated (Accept=no) service the listening fds
   * stay open in the daemon throughout: connections queue in the backlog and the new process takes them.
   * The active units that Requires=/BindsTo=/PartOf= it restart with it (dependencies.ts).
   */
  async restartUnit(name: string): Promise<void> {
    const sock = this.sockets.get(name);
    if (sock) {
      if (sock.state === 'running')
        throw new ActivationError('ENGINE_STATE', `Socket ${name} is in use by its service; stop the service first.`, {
          unit: name,
        });
      await this.deps.restart(
        name,
        () => this.sockets.stop(sock, true),
        () => this.startUnit(name),
      );
      return;
    }
    await this.deps.restart(
      name,
      () => this.stopOwn(name),
      () => this.startUnit(name),
    );
  }

  /** `reload UNIT`: ExecReload= or Type=notify-reload's signal. Sockets cannot reload (as systemd). */
  async reloadUnit(name: string): Promise<void> {
    if (this.sockets.has(name))
      throw new ActivationError('NOT_RELOADABLE', `Job type reload is not applicable for unit ${name}.`, {
        unit: name,
      });
    const inst = this.instances.find(name);
    if (inst) return inst.proc.reload();
    await this.services.require(name).process.reload();
  }

  /** Every loaded unit with what `list-units`/`status UNIT` show. */
  listUnits(): UnitInfo[] {
    const names = [...new Set([...this.sockets.names(), ...this.services.names()])].sort();
    return names.map((n) => this.unitInfo(n)).filter((u): u is UnitInfo => u !== undefined);
  }

  /** One unit for `status UNIT`; undefined when no such unit is loaded. */
  unitInfo(name: string): UnitInfo | undefined {
    const sock = this.sockets.get(name);
    if (sock) return socketUnitInfo(sock);
    const svc = this.services.peek(name);
    if (svc)
      return serviceUnitInfo(
        name,
        svc.process,
        this.services.socketsFor(svc.process.unit).map((s) => s.unit.name),
      );
    const inst = this.instances.find(name);
    return inst ? serviceUnitInfo(name, inst.proc, [inst.sock.unit.name], true) : undefined;
  }

  /** Stops services (KillSignal=, TimeoutStopSec=), closes every fd, removes RemoveOnStop= nodes. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.core.stopping = true;
    for (const sock of this.sockets.values()) this.sockets.unwatch(sock);
    const stops = this.services.stopAll();
    for (const sock of this.sockets.values()) for (const inst of sock.instances) stops.push(inst.stop());
    await Promise.all(stops);
    // ExecStopPre=/ExecStopPost= of the sockets that have them run here (each socket's in parallel).
    await Promise.all([...this.sockets.values()].map((sock) => this.sockets.stop(sock)));
    await this.sockets.settled();
    // The daemon goes away: no fd store outlives it (FileDescriptorStorePreserve=yes included).
    for (const svc of this.services.values()) svc.process.fdStore.release();
    this.core.channels.close();
    this.started = false;
  }

  /** A JSON-serialisable snapshot for `mptcpd-lite status`. */
  status(): EngineStatus {
    const sockets: SocketStatus[] = [...this.sockets.values()].map(socketStatus);
    const services: ServiceSnapshot[] = [...this.services.values()].map((s) => s.process.snapshot());
    for (const s of this.sockets.values()) for (const inst of s.instances) services.push(inst.snapshot());
    return { sockets, services };
  }

  /** The status of one socket unit, or undefined. */
  socket(name: string): SocketStatus | undefined {
    const s = this.sockets.get(name);
    return s ? socketStatus(s) : undefined;
  }
}
