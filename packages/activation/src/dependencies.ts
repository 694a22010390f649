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
 * - `stop UNIT`: the active units that Requires=/BindsTo=/PartOf= it are stopped first.
 * - BindsTo=: a unit whose bound unit becomes inactive or failed is stopped.
 * - OnFailure=/OnSuccess= (unit.c unit_start_on_termination_deps()): when a service enters failed
 *   (also before an auto-restart), or inactive from an active state, `Triggering OnFailure=
 *   dependencies.` and a start of each, whose ExecStartPre=/ExecStart= get MONITOR_SERVICE_RESULT,
 *   MONITOR_EXIT_CODE, MONITOR_EXIT_STATUS, MONITOR_INVOCATION_ID and MONITOR_UNIT (service.c).
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
import { templateNameFor } from './instance-name.js';
import { unitStatusString } from './logger.js';
import { exitEnvironment } from './service-exec.js';
import type { ServiceRuntime, ServiceRuntimes, StartOutcome } from './service-runtime.js';
import type { ServiceState } from './service-types.js';
import type { SocketRuntimes } from './socket-runtime.js';
import { instanceLoadWarnings, isServiceUnit } from './templates.js';
import type { UnitDefinitions } from './unit-definitions.js';

/** How a dependency start job ended: as StartOutcome, plus `dependency` (a required job failed first). */
type JobResult = StartOutcome | 'dependency';

/** The directives that make start jobs, and those only warned about. */
const REQUIRING = ['Requires', 'BindsTo'] as const;
const UNSUPPORTED = ['Upholds', 'PropagatesStopTo', 'StopPropagatedFrom', 'PropagatesReloadTo', 'ReloadPropagatedFrom'];

export interface DependencyHooks {
  /** Starts a socket unit as `start UNIT` does; rejects when it fails. */
  startSocket(name: string): Promise<void>;
  /** Stops a unit as `stop UNIT` does (without the dependency walk). */
  stopUnit(name: string): Promise<void>;
}

export class Dependencies {
  /** Instances loaded on demand (start, dependencies): instantiated again at each (re)load. */
  private readonly onDemand = new Set<string>();
  private readonly warned = new Set<string>();
  private hostFacts: ReturnType<typeof machineHostFacts> | undefined;

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
    return ['Requires', 'Requisite', 'BindsTo', 'Wants', 'Conflicts'].some((k) => this.names(unit, k).length > 0);
  }

  /**
   * `start UNIT` with its dependencies (transaction.c, simplified): every unit pulled in gets a job,
   * jobs wait for the ones they are ordered after. `startOne` is the plain start of the unit asked for.
   */
  async start(name: string, startOne: () => Promise<void>): Promise<void> {
    if (!(await this.load(name)))
      throw new ActivationError('UNIT_NOT_FOUND', `Unit ${name} not found.`, { unit: name });
    const root = this.unitOf(name);
    if (!root || !this.hasStartDeps(root)) return startOne();
    // The transaction: the units pulled in, and which of them are required by which.
    const units = new Map<string, Unit>();
    const requiredBy = new Map<string, Set<string>>();
    const requisites = new Map<string, string[]>();
    const pull = async (u: Unit): Promise<void> => {
      if (units.has(u.name)) return;
      units.set(u.name, u);
      requisites.set(u.name, this.names(u, 'Requisite'));
      for (const key of [...REQUIRING, 'Requisite', 'Wants']) {
        const required = key !== 'Wants';
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
          if (du) await pull(du);
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
    // A cycle of After= would wait forever: 257 breaks it by dropping a job; here the order is dropped.
    if (hasCycle(after)) {
      this.core.log.warn('Found ordering cycle; starting the units without that order.', { unit: name });
      for (const set of after.values()) set.clear();
    }
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

  /** The live units that Requires=/BindsTo=/PartOf= `name` (stopped with it). */
  private requirers(name: string, key: readonly string[] = ['Requires', 'BindsTo', 'PartOf']): string[] {
    const out: string[] = [];
    for (const u of this.defs.services.values())
      if (u.name !== name && this.isLive(u.name) && key.some((k) => this.names(u, k).includes(name))) out.push(u.name);
    for (const s of this.sockets.values())
      if (this.isLive(s.unit.name) && key.some((k) => this.names(s.unit, k).includes(name))) out.push(s.unit.name);
    return out;
  }

  /** `stop UNIT`: the units requiring it stop first (recursively), then it. */
  async stop(name: string, stopOne: () => Promise<void>): Promise<void> {
    const seen = new Set<string>([name]);
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
    await stopOne();
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
    }
    if (failed && from !== 'failed') this.triggerOnTermination(p.unit, 'OnFailure', rt);
    else if (succeeded && !wasDown) this.triggerOnTermination(p.unit, 'OnSuccess', rt);
  }

  private triggerOnTermination(unit: ServiceUnit, key: 'OnFailure' | 'OnSuccess', rt: ServiceRuntime): void {
    const handlers = this.names(unit, key);
    if (handlers.length === 0) return;
    const p = rt.process;
    const env: Record<string, string> = { MONITOR_SERVICE_RESULT: p.lastResult ?? 'success' };
    for (const [k, v] of Object.entries(exitEnvironment(p.lastExit ?? undefined))) env[`MONITOR_${k}`] = v;
    if (p.lastInvocationId) env.MONITOR_INVOCATION_ID = p.lastInvocationId;
    env.MONITOR_UNIT = unit.name;
    // After the unit's own job has ended (its `Failed to start …` line comes first, as in 257).
    setImmediate(() => this.startHandlers(unit, key, handlers, env));
  }

  private startHandlers(unit: ServiceUnit, key: string, handlers: string[], env: Record<string, string>): void {
    if (this.core.stopping) return;
    this.core.log.info(`Triggering ${key}= dependencies.`, { unit: unit.name });
    for (const h of handlers) {
      void (async () => {
        try {
          if (!this.ours(h) || !(await this.load(h)))
            throw new ActivationError('UNIT_NOT_FOUND', `Unit ${h} not found.`, { unit: h });
          if (this.sockets.has(h)) return await this.hooks.startSocket(h);
          const svc = this.services.get(h);
          if (svc) await this.services.startJobFor(svc, env);
        } catch (err) {
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
  }
}

/** Whether the After= graph has a cycle. */
function hasCycle(after: Map<string, Set<string>>): boolean {
  const state = new Map<string, 1 | 2>();
  const visit = (n: string): boolean => {
    const s = state.get(n);
    if (s === 1) return true;
    if (s === 2) return false;
    state.set(n, 1);
    for (const a of after.get(n) ?? []) if (visit(a)) return true;
    state.set(n, 2);
    return false;
  };
  return [...after.keys()].some(visit);
}
