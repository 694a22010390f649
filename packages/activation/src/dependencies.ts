/**
 * Unit dependencies as systemd 257 acts on them, for the units this daemon knows (its .service and
 * .socket units, and instances of its templates, loaded on demand): recorded with the oracle in
 * test/fixtures/v257/dependencies, on-failure and instances.
 * - `start UNIT` (job.c/transaction.c): its Requires=, Requisite=, BindsTo= and Wants= units get start
 *   jobs too (recursively); a job waits for the jobs of the units it is ordered After= (and those
 *   ordered Before= it); when a job it Requires=/BindsTo= waited for fails, it ends `dependency`
 *   (`Dependency failed for UNIT.`, systemctl: `A dependency job for UNIT failed. …`) without starting.
 *   Requisite=: the unit must be active already, else the job ends `dependency`.
 *   A Requires=/Requisite=/BindsTo= unit that is not found refuses the start (`Unit X not found.`);
 *   Wants= of a missing unit is ignored. Units of other types (targets, mounts, …) have no manager
 *   here: they count as active (documented in the README).
 * - Conflicts=: starting the unit stops the units it conflicts with (both directions).
 * - An ordering cycle among the jobs (transaction-order.ts, fixture v257/ordering-cycle): a job that
 *   does not matter to the start is deleted, or the start is refused (JOB_REFUSED, `Transaction order
 *   is cyclic. …`); a socket trigger then fails the socket ('resources').
 * - A socket trigger is such a start too (socket.c socket_enter_running(): a JOB_START of the service,
 *   or of the Accept=yes instance): fixtures v257/trigger-deps. An Accept=no socket whose service's
 *   job fails `dependency` listens again; its queued connection triggers again until the trigger
 *   limit (`Trigger limit hit, refusing further activation.`); an Accept=yes connection is closed.
 * - `stop UNIT`: the active units that Requires=/Requisite=/BindsTo=/PartOf= it are stopped first;
 *   its PropagatesStopTo= units and those StopPropagatedFrom= it are stopped with it (also when it
 *   ends by itself: UNIT_ATOM_RETROACTIVE_STOP_ON_STOP), fixture v257/propagation.
 * - `restart UNIT` (transaction.c: UNIT_ATOM_PROPAGATE_STOP as JOB_TRY_RESTART): those active
 *   dependents are stopped first and started again after it; PropagatesStopTo= units only stopped.
 * - Upholds=: pulled in as Wants=; an upheld unit that is inactive or failed (no job pending) while
 *   a unit upholding it is active is started again (manager.c start_when_upheld_queue, at most 16
 *   times in 10 s), also after `stop` of it.
 * - BindsTo=: a unit whose bound unit becomes inactive or failed is stopped.
 * - OnFailure=/OnSuccess= (unit.c unit_start_on_termination_deps()): when a service enters failed
 *   (also before an auto-restart), or inactive from an active state, `Triggering OnFailure=
 *   dependencies.` and a start of each, whose ExecStartPre=/ExecStart= get MONITOR_SERVICE_RESULT,
 *   MONITOR_EXIT_CODE, MONITOR_EXIT_STATUS, MONITOR_INVOCATION_ID and MONITOR_UNIT (service.c).
 *   OnFailureJobMode=/OnSuccessJobMode= (fixture v257/on-failure-job-mode): replace,
 *   replace-irreversibly; fail (refused while the handler has a stop job); ignore-dependencies and
 *   ignore-requirements (the handler alone); restart-dependencies (its active dependents restart);
 *   isolate and triggering are refused with 257's words; flush is warned about at load (FILE:LINE)
 *   and acts as replace: other units' jobs are not canceled here.
 */
import {
  type ServiceUnit,
  type Unit,
  expandSpecifiers,
  formatDiagnostic,
  loadServiceInstance,
  machineHostFacts,
  parseUnitName,
  templateOf,
} from '@mptcp/unit';
import type { EngineCore } from './engine-core.js';
import type { ServiceTemplate } from './engine-types.js';
import { ActivationError, messageOf } from './errors.js';
import { readFileSync } from 'node:fs';
import { templateNameFor, withPeerDescription } from './instance-name.js';
import { unitStatusString } from './logger.js';
import { takeTrigger } from './limits.js';
import { RateLimit } from './rate-limit.js';
import { exitEnvironment } from './service-exec.js';
import type { ServiceRuntime, ServiceRuntimes, StartOutcome } from './service-runtime.js';
import type { ServiceResult } from './restart-policy.js';
import type { ServiceExit, ServiceState } from './service-types.js';
import type { SocketRuntime, SocketRuntimes } from './socket-runtime.js';
import { instanceLoadWarnings, isServiceUnit } from './templates.js';
import { ORDER_IS_CYCLIC, type PullLink, verifyOrder } from './transaction-order.js';
import { type UnitDefinitions, serviceNameOf } from './unit-definitions.js';

/** How a dependency start job ended: as StartOutcome, plus `dependency` (a required job failed first). */
type JobResult = StartOutcome | 'dependency';

/** The directives that make start jobs, and those only warned about. */
const REQUIRING = ['Requires', 'BindsTo'] as const;
const UNSUPPORTED = ['PropagatesReloadTo', 'ReloadPropagatedFrom'];
/** The directives that make a start pull in (or stop) other units. */
/** How a run ended, for MONITOR_*= of its OnFailure=/OnSuccess= handlers. */
interface RunEnd {
  result: ServiceResult;
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  invocationId: string | undefined;
}

const START_DEPS = ['Requires', 'Requisite', 'BindsTo', 'Wants', 'Upholds', 'Conflicts'];
/** The directives whose units a stop or restart of the unit they name propagates to (UNIT_ATOM_PROPAGATE_STOP). */
const PROPAGATE_STOP = ['Requires', 'Requisite', 'BindsTo', 'PartOf'] as const;
/** The job modes of OnFailureJobMode= this daemon acts on as 257 (job.c job_mode_table); flush acts as replace. */
const HONOURED_MODES = [
  'replace',
  'replace-irreversibly',
  'fail',
  'ignore-dependencies',
  'ignore-requirements',
  'restart-dependencies',
  'isolate',
  'triggering',
];

export interface DependencyHooks {
  /** Starts a socket unit as `start UNIT` does; rejects when it fails. */
  startSocket(name: string): Promise<void>;
  /** Stops a unit as `stop UNIT` does (without the dependency walk). */
  stopUnit(name: string): Promise<void>;
  /** Starts a unit as `start UNIT` does, its dependencies included. */
  startUnit(name: string): Promise<void>;
}

export class Dependencies {
  /** Instances loaded on demand (start, dependencies): instantiated again at each (re)load. */
  private readonly onDemand = new Set<string>();
  private readonly warned = new Set<string>();
  private hostFacts: ReturnType<typeof machineHostFacts> | undefined;
  /** Upholds= restarts per unit (unit.c auto_start_stop_ratelimit: 16 in 10 s). */
  private readonly upholdLimits = new Map<string, RateLimit>();

  constructor(
    private readonly core: EngineCore,
    private readonly defs: UnitDefinitions,
    private readonly services: ServiceRuntimes,
    private readonly sockets: SocketRuntimes,
    private readonly hooks: DependencyHooks,
  ) {
    services.onTransition = (rt, from, to) => this.onTransition(rt, from, to);
  }

  /** A unit `start` can find: loaded, or an instance of a loaded template. */
  knows(name: string): boolean {
    if (this.sockets.has(name) || this.defs.services.has(name)) return true;
    return this.templateFor(name) !== undefined;
  }

  /**
   * The loaded template `name` is an instance of, unless an Accept=yes socket uses it: its instances
   * are that socket's connections (accept-instances.ts), never started by name.
   */
  private templateFor(name: string): ServiceTemplate | undefined {
    const t = templateOf(name);
    if (t === undefined || t === name || !name.endsWith('.service')) return undefined;
    for (const s of this.sockets.values()) if (s.unit.accept && templateNameFor(s.unit.name) === t) return undefined;
    return this.defs.templates.get(t);
  }

  /** Loads `name` when it is an instance of a loaded template (257 loads units on demand); whether it is loaded. */
  async load(name: string): Promise<boolean> {
    if (this.sockets.has(name) || this.defs.services.has(name)) return true;
    const template = this.templateFor(name);
    if (!template) return false;
    let unit: ServiceUnit;
    if (template.file && !isServiceUnit(template)) {
      // From the disk, as 257 loads a unit: the template with the instance's own drop-ins (tp@x.service.d).
      const instance = name.slice(name.indexOf('@') + 1, name.lastIndexOf('.'));
      const r = loadServiceInstance(template.name, instance, {
        templateFile: template.file,
        ...(template.searchPaths ? { searchPaths: template.searchPaths } : {}),
      });
      if (!r.unit || r.unit.kind !== 'service' || r.fatal)
        throw new ActivationError(
          'TEMPLATE_NOT_FOUND',
          `Failed to load ${name}: ${r.diagnostics.map(formatDiagnostic).join('; ')}`,
          { unit: name },
        );
      unit = r.unit;
      for (const d of r.diagnostics) this.core.log.warn(formatDiagnostic(d), { unit: name, bare: true });
    } else {
      unit = await this.defs.instantiate(template, name);
      for (const w of instanceLoadWarnings(unit)) this.core.log.warn(w, { unit: name, bare: true });
    }
    this.defs.services.set(name, unit);
    this.onDemand.add(name);
    this.services.get(name);
    this.warnUnsupported(unit);
    return true;
  }

  /** After new definitions: the instances loaded on demand are loaded again (from the new templates). */
  async reloaded(): Promise<void> {
    for (const name of this.onDemand) {
      this.onDemand.delete(name);
      try {
        await this.load(name);
      } catch (err) {
        this.core.log.error(`Failed to load ${name}: ${messageOf(err)}`, { unit: name });
      }
    }
    for (const unit of this.defs.services.values()) this.warnUnsupported(unit);
  }

  /** The units one dependency directive names, specifiers expanded (%n, %i, %p …). */
  names(unit: Unit, key: string): string[] {
    const out: string[] = [];
    for (const v of unit.unit.extra[key] ?? []) {
      for (const word of v.split(/\s+/)) {
        if (word === '') continue;
        let name = word;
        if (word.includes('%')) {
          this.hostFacts ??= machineHostFacts();
          const r = expandSpecifiers(word, { name: unit.name, file: unit.file, host: this.hostFacts }, 'name');
          if (!r.ok) continue;
          name = r.value;
        }
        const n = parseUnitName(name);
        if (n && !n.template && name !== unit.name && !out.includes(name)) out.push(name);
      }
    }
    return out;
  }

  /** Whether `name` is a unit this daemon runs (service or socket), loaded or loadable. */
  private ours(name: string): boolean {
    return name.endsWith('.service') || name.endsWith('.socket');
  }

  private unitOf(name: string): Unit | undefined {
    return this.sockets.get(name)?.unit ?? this.defs.services.get(name);
  }

  private isActive(name: string): boolean {
    if (!this.ours(name)) return true;
    const sock = this.sockets.get(name);
    if (sock) return sock.state === 'listening' || sock.state === 'running';
    const s = this.services.peek(name)?.process.state;
    return s === 'active' || s === 'reloading';
  }

  /** Whether a unit has anything here that acts on its start. */
  private hasStartDeps(unit: Unit): boolean {
    return START_DEPS.some((k) => this.names(unit, k).length > 0);
  }

  /**
   * `start UNIT` with its dependencies (transaction.c, simplified): every unit pulled in gets a job,
   * jobs wait for the ones they are ordered after. `startOne` is the plain start of the unit asked for.
   */
  async start(name: string, startOne: () => Promise<void>): Promise<void> {
    if (!(await this.load(name)))
      throw new ActivationError('UNIT_NOT_FOUND', `Unit ${name} not found.`, { unit: name });
    const root = this.unitOf(name);
    if (!root) return startOne();
    return this.transaction(root, startOne);
  }

  /**
   * An Accept=yes instance's start job (socket_enter_running()): its dependencies' jobs, before it
   * starts; rejects with JOB_DEPENDENCY (the connection is closed) when a required one failed.
   * Returns the unit as it came when there is nothing to pull in (no promise: accept-instances.ts
   * hands a spawn off before its next accept).
   */
  beforeInstance(unit: ServiceUnit | Promise<ServiceUnit>): ServiceUnit | Promise<ServiceUnit> {
    if (unit instanceof Promise) return unit.then((u) => this.beforeInstance(u));
    // service_set_socket_fd() before the start job: the instance is described by its peer.
    unit = withPeerDescription(unit);
    if (!this.hasStartDeps(unit)) return unit;
    return this.transaction(unit, async () => undefined).then(
      () => unit,
      (err: unknown) => {
        // socket_enter_running()'s queue_error: never queued (an ordering cycle), the socket fails.
        const sock = [...this.sockets.values()].find(
          (s) => s.unit.accept && templateNameFor(s.unit.name) === templateOf(unit.name),
        );
        if ((err as { code?: string }).code === 'JOB_REFUSED' && sock && this.sockets.live(sock)) {
          this.core.log.warn(`Failed to queue service startup job: ${messageOf(err)}`, { unit: sock.unit.name });
          this.sockets.enterFailed(sock, 'resources');
        }
        throw err;
      },
    );
  }

  /**
   * A readable Accept=no socket whose service has dependencies: the trigger (trigger limit, as
   * service-runtime.ts onTrigger()) starts the service through its dependencies' jobs; `plain` is the
   * trigger without them. The socket is `running` while the job is pending (socket_enter_running()).
   */
  trigger(sock: SocketRuntime, plain: () => void): void {
    const name = serviceNameOf(sock.unit);
    const unit = this.defs.services.get(name);
    if (!unit || !this.hasStartDeps(unit)) return plain();
    if (sock.state !== 'listening' || this.core.stopping) return;
    this.sockets.unwatch(sock);
    if (!takeTrigger(sock)) {
      this.sockets.triggerLimitHit(sock);
      return;
    }
    this.core.events.emit('trigger', { socket: sock.unit.name, service: name });
    const svc = this.services.get(name);
    if (!svc) return plain();
    this.sockets.setState(sock, 'running');
    void this.transaction(unit, async () => {
      const r = await this.services.start(svc, sock);
      if (r === 'failed') throw new ActivationError('JOB_FAILED', `Job for ${name} failed.`, { unit: name });
    }).catch((err: unknown) => {
      const code = (err as { code?: string }).code;
      if (code === 'JOB_REFUSED') {
        // socket_enter_running()'s queue_error: the job was never queued, the socket fails.
        this.core.log.warn(`Failed to queue service startup job: ${messageOf(err)}`, { unit: sock.unit.name });
        this.sockets.enterFailed(sock, 'resources');
        return;
      }
      this.core.log.debug(messageOf(err), { unit: sock.unit.name });
      // socket_trigger_notify() at the job's end: listening again (the queued connection triggers anew).
      if (code === 'JOB_DEPENDENCY') this.sockets.enterListeningLater(sock);
    });
  }

  /** The transaction of a start of `root` (see start()); `ignoreRequirements`: `root` alone. */
  private async transaction(root: Unit, startOne: () => Promise<void>, ignoreRequirements = false): Promise<void> {
    const name = root.name;
    if (ignoreRequirements || !this.hasStartDeps(root)) return startOne();
    // The transaction: the units pulled in, and which of them are required by which.
    const units = new Map<string, Unit>();
    const requiredBy = new Map<string, Set<string>>();
    const requisites = new Map<string, string[]>();
    const links: PullLink[] = [];
    const pull = async (u: Unit): Promise<void> => {
      if (units.has(u.name)) return;
      units.set(u.name, u);
      requisites.set(u.name, this.names(u, 'Requisite'));
      for (const key of [...REQUIRING, 'Requisite', 'Wants', 'Upholds']) {
        const required = key !== 'Wants' && key !== 'Upholds';
        for (const dep of this.names(u, key)) {
          if (!this.ours(dep)) continue;
          if (!(await this.load(dep).catch(() => false))) {
            // 257 refuses the whole start when a required unit is missing; a wanted one is left out.
            if (required) throw new ActivationError('UNIT_NOT_FOUND', `Unit ${dep} not found.`, { unit: name });
            continue;
          }
          if (required) {
            let set = requiredBy.get(dep);
            if (!set) requiredBy.set(dep, (set = new Set()));
            set.add(u.name);
          }
          if (key === 'Requisite') continue;
          const du = this.unitOf(dep);
          if (!du) continue;
          links.push({ subject: u.name, object: dep, matters: required });
          await pull(du);
        }
      }
    };
    await pull(root);
    // Ordering among the jobs: After= of a unit, and Before= of another naming it.
    const after = new Map<string, Set<string>>();
    for (const [n, u] of units) {
      const set = new Set(this.names(u, 'After').filter((a) => units.has(a)));
      after.set(n, set);
    }
    for (const [n, u] of units) for (const b of this.names(u, 'Before')) if (units.has(b)) after.get(b)?.add(n);
    // transaction_verify_order(): a cycle loses a job that does not matter to the anchor, or the start
    // is refused. Units already active have no job in 257's check (transaction_drop_redundant()).
    const order = verifyOrder(
      { jobs: [...units.keys()].filter((n) => n === name || !this.isActive(n)), anchor: name, after, links },
      (level, unit, text) => this.core.log[level](text, { unit }),
    );
    if (!order.ok) {
      this.core.log.warn(`Requested transaction contains an unfixable cyclic ordering dependency: ${ORDER_IS_CYCLIC}`, {
        unit: name,
        bare: true,
      });
      throw new ActivationError('JOB_REFUSED', ORDER_IS_CYCLIC, { unit: name });
    }
    for (const d of order.deleted) {
      units.delete(d);
      after.delete(d);
    }
    for (const set of after.values()) for (const d of order.deleted) set.delete(d);
    // Conflicts=: the units in conflict with a unit of the transaction are stopped first.
    await this.stopConflicting([...units.values()]);
    let rootError: unknown;
    const runRoot = async (): Promise<JobResult> => {
      try {
        await startOne();
        return 'done';
      } catch (err) {
        rootError = err;
        return (err as { code?: string }).code === 'JOB_CANCELED' ? 'canceled' : 'failed';
      }
    };
    const jobs = new Map<string, Promise<JobResult>>();
    const jobOf = (n: string): Promise<JobResult> => {
      let j = jobs.get(n);
      if (j) return j;
      j = (async (): Promise<JobResult> => {
        for (const a of after.get(n) ?? []) {
          const r = await jobOf(a);
          if (r !== 'done' && r !== 'skipped' && (requiredBy.get(a)?.has(n) ?? false)) return 'dependency';
        }
        for (const q of requisites.get(n) ?? []) {
          if (this.isActive(q)) continue;
          // job.c job_perform_on_unit() for JOB_VERIFY_ACTIVE: a notice.
          this.core.log.warn(`${q} is inactive.`, { unit: q, bare: true });
          return 'dependency';
        }
        return n === name ? runRoot() : this.startDep(n);
      })();
      jobs.set(n, j);
      return j;
    };
    const results = await Promise.all([...units.keys()].map(async (n) => [n, await jobOf(n)] as const));
    for (const [n, r] of results) {
      if (r !== 'dependency') continue;
      const u = units.get(n);
      this.core.log.warn(`Dependency failed for ${unitStatusString(n, u?.unit.description)}.`, { unit: n, bare: true });
      this.core.log.warn(`Job ${n}/start failed with result 'dependency'.`, { unit: n });
    }
    const own = results.find(([n]) => n === name)?.[1];
    if (own === 'dependency')
      throw new ActivationError('JOB_DEPENDENCY', `A dependency job for ${name} failed.`, { unit: name });
    if (rootError !== undefined) throw rootError;
  }

  /** A unit pulled in: its start job (merged into a pending one), its outcome. */
  private async startDep(name: string): Promise<JobResult> {
    if (this.sockets.has(name)) {
      try {
        await this.hooks.startSocket(name);
        return 'done';
      } catch {
        return 'failed';
      }
    }
    const svc = this.services.get(name);
    if (!svc) return 'failed';
    return this.services.startJobFor(svc);
  }

  /** Conflicts= in both directions: the active units that conflict with one of `units` are stopped. */
  private async stopConflicting(units: Unit[]): Promise<void> {
    const names = new Set(units.map((u) => u.name));
    const victims = new Set<string>();
    for (const u of units)
      for (const c of this.names(u, 'Conflicts')) if (this.ours(c) && !names.has(c)) victims.add(c);
    for (const other of this.defs.services.values())
      if (!names.has(other.name) && this.names(other, 'Conflicts').some((c) => names.has(c))) victims.add(other.name);
    const stops: Array<Promise<void>> = [];
    for (const v of victims) if (this.isLive(v)) stops.push(this.hooks.stopUnit(v).catch(() => undefined));
    await Promise.all(stops);
  }

  /** Not inactive nor failed. */
  private isLive(name: string): boolean {
    const sock = this.sockets.get(name);
    if (sock) return sock.state === 'listening' || sock.state === 'running';
    const s = this.services.peek(name)?.process.state;
    return s !== undefined && s !== 'inactive' && s !== 'failed';
  }

  /** The live units that Requires=/Requisite=/BindsTo=/PartOf= `name` (stopped with it). */
  private requirers(name: string, key: readonly string[] = PROPAGATE_STOP): string[] {
    const out: string[] = [];
    for (const u of this.defs.services.values())
      if (u.name !== name && this.isLive(u.name) && key.some((k) => this.names(u, k).includes(name))) out.push(u.name);
    for (const s of this.sockets.values())
      if (this.isLive(s.unit.name) && key.some((k) => this.names(s.unit, k).includes(name))) out.push(s.unit.name);
    return out;
  }

  /**
   * `stop UNIT`: the units requiring it stop first (recursively), then it, and with it the units it
   * PropagatesStopTo= (and those StopPropagatedFrom= it), with their own requirers.
   */
  async stop(name: string, stopOne: () => Promise<void>, seen = new Set<string>([name])): Promise<void> {
    const walk = async (n: string): Promise<void> => {
      const deps = this.requirers(n).filter((d) => !seen.has(d));
      for (const d of deps) seen.add(d);
      await Promise.all(
        deps.map(async (d) => {
          await walk(d);
          await this.hooks.stopUnit(d).catch((err: unknown) => this.core.log.debug(messageOf(err), { unit: d }));
        }),
      );
    };
    await walk(name);
    const targets = this.stopTargets(name).filter((t) => !seen.has(t) && this.isLive(t));
    for (const t of targets) seen.add(t);
    await Promise.all([
      stopOne(),
      ...targets.map((t) =>
        this.stop(t, () => this.hooks.stopUnit(t), seen).catch((err: unknown) =>
          this.core.log.debug(messageOf(err), { unit: t }),
        ),
      ),
    ]);
  }

  /** The units a stop of `name` propagates to: its PropagatesStopTo=, the units StopPropagatedFrom= it. */
  private stopTargets(name: string): string[] {
    const out = new Set<string>();
    const unit = this.unitOf(name);
    if (unit) for (const t of this.names(unit, 'PropagatesStopTo')) if (this.ours(t)) out.add(t);
    for (const u of this.defs.services.values())
      if (this.names(u, 'StopPropagatedFrom').includes(name)) out.add(u.name);
    for (const s of this.sockets.values())
      if (this.names(s.unit, 'StopPropagatedFrom').includes(name)) out.add(s.unit.name);
    out.delete(name);
    return [...out];
  }

  /** The live units a restart of `name` restarts (try-restart): its requirers, recursively. */
  private restartedWith(name: string): string[] {
    const out: string[] = [];
    const walk = (n: string): void => {
      for (const d of this.requirers(n))
        if (d !== name && !out.includes(d)) {
          out.push(d);
          walk(d);
        }
    };
    walk(name);
    return out;
  }

  /**
   * `restart UNIT` (transaction.c: a JOB_RESTART propagates JOB_TRY_RESTART to the units with
   * Requires=/Requisite=/BindsTo=/PartOf= on it): those that are active stop first, it restarts,
   * then they start again (their start jobs wait for it through their After=, as `start` orders
   * them). PropagatesStopTo= units are stopped, not started again.
   */
  async restart(name: string, stopOne: () => Promise<void>, startOne: () => Promise<void>): Promise<void> {
    const again = this.restartedWith(name);
    await this.stop(name, stopOne);
    await startOne();
    await Promise.all(
      again.map((d) =>
        this.hooks.startUnit(d).catch((err: unknown) => this.core.log.debug(messageOf(err), { unit: d })),
      ),
    );
  }

  /** A service changed state: BindsTo= of units bound to it, OnFailure=/OnSuccess= of its own. */
  private onTransition(rt: ServiceRuntime, from: ServiceState, to: ServiceState): void {
    if (this.core.stopping || from === to) return;
    const p = rt.process;
    const name = p.name;
    const wasDown = from === 'inactive' || from === 'failed';
    const failed = to === 'failed' || (to === 'auto-restart' && (p.lastResult ?? 'success') !== 'success');
    const succeeded = to === 'inactive' || (to === 'auto-restart' && !failed);
    if ((failed || succeeded) && !wasDown) {
      for (const b of this.requirers(name, ['BindsTo'])) {
        this.core.log.debug(`Unit is bound to inactive unit ${name}. Stopping, too.`, { unit: b });
        void this.hooks.stopUnit(b).catch(() => undefined);
      }
      // retroactively_stop_dependencies(): PropagatesStopTo= when it ended without a stop job.
      if (!rt.stopJob)
        for (const t of this.stopTargets(name)) if (this.isLive(t)) void this.hooks.stopUnit(t).catch(() => undefined);
    }
    if ((to === 'inactive' || to === 'failed') && !wasDown) this.uphold(rt);
    const end = { result: p.lastResult ?? 'success', exit: p.lastExit, invocationId: p.lastInvocationId };
    if (failed && from !== 'failed') this.triggerOnTermination(p.unit, 'OnFailure', end);
    else if (succeeded && !wasDown) this.triggerOnTermination(p.unit, 'OnSuccess', end);
  }

  /**
   * An Accept=yes instance ended (accept-instances.ts): a unit of its own in 257, so its template's
   * OnFailure=/OnSuccess= start as for any service (unit_notify(): failed, or inactive after active).
   */
  afterInstance(unit: ServiceUnit, exit: ServiceExit, invocationId: string | undefined): void {
    if (this.core.stopping) return;
    const end = { result: exit.result, exit: { code: exit.code, signal: exit.signal }, invocationId };
    this.triggerOnTermination(unit, exit.result === 'success' ? 'OnSuccess' : 'OnFailure', end);
  }

  /** The active unit that Upholds= `name`, if any (unit_is_upheld_by_active()). */
  private upholder(name: string): string | undefined {
    for (const u of this.defs.services.values())
      if (u.name !== name && this.isActive(u.name) && this.names(u, 'Upholds').includes(name)) return u.name;
    for (const s of this.sockets.values())
      if (this.isActive(s.unit.name) && this.names(s.unit, 'Upholds').includes(name)) return s.unit.name;
    return undefined;
  }

  /** An inactive or failed unit that an active unit upholds is started again, once its stop job has ended. */
  private uphold(rt: ServiceRuntime): void {
    const name = rt.process.name;
    if (this.upholder(name) === undefined) return;
    const stopped = rt.stopJob?.done ?? Promise.resolve();
    void stopped
      .catch(() => undefined)
      .then(() => new Promise((resolve) => setImmediate(resolve)))
      .then(async () => {
        const s = rt.process.state;
        if (this.core.stopping || (s !== 'inactive' && s !== 'failed') || rt.startJob || rt.stopJob) return;
        const culprit = this.upholder(name);
        if (culprit === undefined) return;
        let limit = this.upholdLimits.get(name);
        if (!limit) this.upholdLimits.set(name, (limit = new RateLimit(10_000_000, 16)));
        if (!limit.below()) {
          this.core.log.warn(
            `Unit needs to be started because active unit ${culprit} upholds it, but not starting since we tried this too often recently.`,
            { unit: name },
          );
          return;
        }
        this.core.log.debug(`Unit is started because upheld by active unit ${culprit}.`, { unit: name });
        await this.hooks.startUnit(name).catch((err: unknown) => this.core.log.debug(messageOf(err), { unit: name }));
      });
  }

  /** OnFailureJobMode=/OnSuccessJobMode= (the last one set; OnFailureIsolate=yes is isolate). */
  private jobMode(unit: Unit, key: 'OnFailure' | 'OnSuccess'): string {
    const mode = unit.unit.extra[`${key}JobMode`]?.at(-1);
    if (mode !== undefined && mode !== '') return mode;
    if (key === 'OnFailure' && /^(1|yes|y|true|t|on)$/i.test(unit.unit.extra.OnFailureIsolate?.at(-1) ?? ''))
      return 'isolate';
    return 'replace';
  }

  private triggerOnTermination(unit: ServiceUnit, key: 'OnFailure' | 'OnSuccess', end: RunEnd): void {
    const handlers = this.names(unit, key);
    if (handlers.length === 0) return;
    const env: Record<string, string> = { MONITOR_SERVICE_RESULT: end.result };
    for (const [k, v] of Object.entries(exitEnvironment(end.exit ?? undefined))) env[`MONITOR_${k}`] = v;
    if (end.invocationId) env.MONITOR_INVOCATION_ID = end.invocationId;
    env.MONITOR_UNIT = unit.name;
    // After the unit's own job has ended (its `Failed to start …` line comes first, as in 257).
    setImmediate(() => this.startHandlers(unit, key, handlers, env));
  }

  private startHandlers(
    unit: ServiceUnit,
    key: 'OnFailure' | 'OnSuccess',
    handlers: string[],
    env: Record<string, string>,
  ): void {
    if (this.core.stopping) return;
    this.core.log.info(`Triggering ${key}= dependencies.`, { unit: unit.name });
    const mode = this.jobMode(unit, key);
    for (const h of handlers) {
      void (async () => {
        try {
          if (!this.ours(h) || !(await this.load(h)))
            throw new ActivationError('UNIT_NOT_FOUND', `Unit ${h} not found.`, { unit: h });
          const hu = this.unitOf(h) as Unit;
          // manager_add_job_full()'s refusals, before anything is queued.
          if (mode === 'isolate') {
            if (!/^(1|yes|y|true|t|on)$/i.test(hu.unit.extra.AllowIsolate?.at(-1) ?? ''))
              throw new ActivationError('JOB_REFUSED', 'Operation refused, unit may not be isolated.', { unit: h });
            throw new ActivationError('JOB_REFUSED', `${key}JobMode=isolate is not supported by mptcpd-lite.`, {
              unit: h,
            });
          }
          if (mode === 'triggering')
            throw new ActivationError('JOB_REFUSED', '--job-mode=triggering is only valid for stop.', { unit: h });
          const svc = this.services.get(h);
          // JOB_FAIL: a queued job the start would replace makes the transaction destructive.
          if (mode === 'fail' && svc?.stopJob)
            throw new ActivationError(
              'JOB_REFUSED',
              `Transaction for ${h}/start is destructive (${h} has 'stop' job queued, but 'start' is included in transaction).`,
              { unit: h },
            );
          const ignoreRequirements = mode === 'ignore-dependencies' || mode === 'ignore-requirements';
          const dependents = mode === 'restart-dependencies' ? this.restartedWith(h) : [];
          await this.transaction(
            hu,
            async () => {
              if (this.sockets.has(h)) return this.hooks.startSocket(h);
              if (svc) await this.services.startJobFor(svc, env);
            },
            ignoreRequirements,
          );
          // JOB_RESTART_DEPENDENCIES: the start propagates as a restart to the units requiring it.
          for (const d of dependents) {
            await this.hooks.stopUnit(d).catch(() => undefined);
            void this.hooks.startUnit(d).catch((err: unknown) => this.core.log.debug(messageOf(err), { unit: d }));
          }
        } catch (err) {
          // A job that was queued and then failed (its own line was logged) is not an enqueue failure.
          const code = (err as { code?: string }).code;
          if (code !== 'UNIT_NOT_FOUND' && code !== 'JOB_REFUSED')
            return this.core.log.debug(messageOf(err), { unit: h });
          this.core.log.warn(`Failed to enqueue ${key}=${h} job, ignoring: ${messageOf(err)}`, { unit: unit.name });
        }
      })();
    }
  }

  /** Dependency directives accepted but not acted on here: one warning per unit and (re)load. */
  private warnUnsupported(unit: Unit): void {
    for (const k of UNSUPPORTED) {
      if (this.names(unit, k).length === 0) continue;
      const key = `${unit.name}\0${k}`;
      if (this.warned.has(key)) continue;
      this.warned.add(key);
      this.core.log.warn(`${k}= is not supported by mptcpd-lite and is ignored.`, { unit: unit.name });
    }
    for (const k of ['OnFailureJobMode', 'OnSuccessJobMode'] as const) {
      const mode = unit.unit.extra[k]?.at(-1);
      if (mode === undefined || mode === '' || HONOURED_MODES.includes(mode)) continue;
      const key = `${unit.name}\0${k}=${mode}`;
      if (this.warned.has(key)) continue;
      this.warned.add(key);
      this.core.log.warn(
        `${whereSet(unit, k)}${k}=${mode} is not supported by mptcpd-lite (other units' jobs are not canceled); acting as replace.`,
        { unit: unit.name },
      );
    }
  }
}

/**
 * Whether starting `unit` pulls in or stops other units (Requires=, Requisite=, BindsTo=, Wants=,
 * Upholds=, Conflicts=): its start is a transaction (Dependencies.start()), not a plain spawn.
 */
export function pullsInUnits(unit: Unit): boolean {
  return START_DEPS.some((k) => (unit.unit.extra[k] ?? []).some((v) => v.trim() !== ''));
}

/** `FILE:LINE: ` of the last `KEY=` of a unit's [Unit] section in its files (fragment, then drop-ins), or ''. */
function whereSet(unit: Unit, key: string): string {
  let at = '';
  for (const file of [unit.file, ...unit.dropIns]) {
    if (!file) continue;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    let section = '';
    text.split('\n').forEach((raw, i) => {
      const line = raw.trim();
      if (line.startsWith('[')) section = line;
      else if (section === '[Unit]' && line.slice(0, line.indexOf('=')).trim() === key) at = `${file}:${i + 1}: `;
    });
  }
  return at;
}
