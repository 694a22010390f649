/**
 * The Engine over @mptcp/activation's ActivationEngine: units are loaded with its loadEngineUnits()
 * (each failed unit keeps its name and messages), the engine opens, watches and activates. Its
 * events become log lines.
 */
import {
  ActivationEngine,
  type CgroupDetection,
  type CgroupTree,
  clearUserCache,
  detectCgroups,
  loadNative,
  nativeSpawnDisabled,
  type LoadedEngineUnits,
  loadEngineUnits,
  type ServiceSnapshot,
  type SocketStatus as EngineSocketStatus,
  type StartReport,
  type UnitInfo,
} from '@mptcp/activation';
import type { ProcessTracking, ServiceStatus, SocketListing, SocketStatus, UnitStatus } from '../control/protocol.js';
import { MptcpdLiteError } from '../errors.js';
import { createUnitLog } from '../events/unit-log.js';
import { UnitJournal } from './unit-journal.js';
import { readSmallFiles } from '@mptcp/native';
import { reserveListenerFds } from './fd-reserve.js';
import type { Logger } from '../log.js';
import type { ChildRegistry } from './children.js';
import type { Engine, LoadReport } from './engine.js';

export interface EngineOptions {
  unitDirs: string[];
  log: Logger;
  /** Where started service processes are recorded (found and killed again after a crash). */
  children?: ChildRegistry;
  /** Lines kept per unit for `status UNIT` (default 200). */
  journalLines?: number;
  /**
   * --allow-unenforced-sandbox: start services whose sandbox/privilege directives are not enforced
   * (a warning per unit) instead of failing them with systemd's exit status for that step.
   */
  allowUnenforcedSandbox?: boolean;
  /** --cgroup auto: each service run in a cgroup of its own under this tree (@mptcp/activation cgroup.ts). */
  cgroups?: CgroupTree;
}

/** An engine UnitInfo as the control protocol's UnitStatus (log lines added by the caller). */
export function toUnitStatus(u: UnitInfo): UnitStatus {
  const svc = u.service;
  return {
    unit: u.name,
    kind: u.kind,
    file: u.file,
    description: u.description,
    activeState: u.activeState,
    subState: u.subState,
    result: u.result,
    since: u.since,
    mainPid: svc?.pid,
    controlPid: u.socket?.controlPid ?? svc?.controlPid,
    tasks: svc?.tasks,
    statusText: svc?.statusText,
    restarts: svc?.restarts,
    fdStore: svc?.fdStore,
    fdStoreMax: u.fdStoreMax,
    invocationId: svc?.invocationId ?? u.invocationId,
    unitFileState: u.unitFileState,
    mainComm: u.mainComm,
    execMainPid: svc?.execMainPid,
    mainExit: u.mainExit,
    duration: u.duration,
    controlComm: u.controlComm,
    listen: (u.listen ?? []).map((l) => {
      const open = u.socket?.listen.find((o) => o.kind === l.kind && o.address === l.address);
      return { address: l.address, kind: l.kind, protocol: open ? protocolOf(open.transport) : 'other' };
    }),
    connections: u.connections,
    triggers: u.triggers,
    triggeredBy: u.triggeredBy,
    ...(u.conditionLines ? { conditionLines: u.conditionLines } : {}),
  };
}

function protocolOf(transport: string): SocketStatus['listen'][number]['protocol'] {
  return transport === 'mptcp' || transport === 'tcp' || transport === 'fallback' ? transport : 'other';
}

export function toSocketStatus(s: EngineSocketStatus): SocketStatus {
  return {
    unit: s.name,
    state: s.state === 'failed' ? `failed (${s.result})` : s.state,
    accept: s.accept,
    listen: s.listen.map((l) => ({ address: l.address, kind: l.kind, protocol: protocolOf(l.transport), fd: l.fd })),
    service: s.service,
    connections: s.connections,
    accepted: s.counters.accepted,
    refused: s.counters.refused,
    activations: s.counters.triggers,
  };
}

export function toServiceStatus(s: ServiceSnapshot): ServiceStatus {
  return {
    unit: s.name,
    state: s.state,
    pid: s.pid,
    pids: s.pid !== undefined ? [s.pid] : [],
    restarts: s.restarts,
    result: s.result,
    subState: s.subState,
    statusText: s.statusText,
  };
}

/** Why the services' launcher cannot put them in cgroups (the node launcher, an addon before `cgroupFd`). */
async function cgroupLauncherProblem(): Promise<string | undefined> {
  if (nativeSpawnDisabled()) return 'the node launcher (MPTCP_ACTIVATION_SPAWN=node) cannot join cgroups';
  try {
    // Loaded once: the engine's start() gets the same.
    const native = await loadNative();
    return native.spawn && native.spawnCgroup ? undefined : 'this build of @mptcp/native cannot join cgroups';
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * `--cgroup auto|off`: the daemon's cgroup tree (it moves itself into the tree's leaf) and how
 * `status` shows it, or the process groups and why (@mptcp/activation detectCgroups()).
 */
export async function processTracking(
  mode: 'auto' | 'off',
  controlPath: string,
): Promise<{ tree?: CgroupTree; tracking: ProcessTracking }> {
  const launcher = mode === 'off' ? undefined : await cgroupLauncherProblem();
  const found: CgroupDetection = launcher ? { reason: launcher } : detectCgroups(mode, controlPath);
  return found.tree
    ? { tree: found.tree, tracking: { kind: 'cgroup', path: found.tree.base } }
    : { tracking: { kind: 'process-group', reason: found.reason } };
}

export async function createEngine(opts: EngineOptions): Promise<Engine> {
  const { log } = opts;
  const journal = new UnitJournal(opts.journalLines);
  // The engine's messages, the daemon's unit events and the services' own output (captured, never
  // on the daemon's stdout) each have their path (events/unit-log.ts).
  const units = createUnitLog(log, journal);
  const engine = new ActivationEngine({
    logger: {
      debug: (m, f) => units.engine('debug', m, f),
      info: (m, f) => units.engine('info', m, f),
      warn: (m, f) => units.engine('warn', m, f),
      error: (m, f) => units.engine('error', m, f),
    },
    serviceOutput: 'log',
    onServiceOutput: (line) => units.output(line),
    ...(opts.allowUnenforcedSandbox ? { allowUnenforcedSandbox: true } : {}),
    ...(opts.cgroups ? { cgroups: opts.cgroups } : {}),
  });
  // Lines the daemon itself logs about a unit (started, exited) go to its journal too.
  const unitLog = (unit: string, message: string): void => units.event(unit, message);
  if (opts.children) {
    const children = opts.children;
    // One write per batch of starts (the Accept=yes fast path reports many at once), made before
    // anything else runs: a microtask after the event that brought them.
    // A process that exited within the same batch is never written at all.
    let pending = new Set<number>();
    const record = (): void => {
      const pids = [...pending];
      pending = new Set();
      children.addAll(pids);
    };
    engine.on('started', (ev) => {
      if (pending.size === 0) queueMicrotask(record);
      pending.add(ev.pid);
    });
    engine.on('service-exit', (ev) => {
      if (!pending.delete(ev.pid)) children.remove(ev.pid);
    });
  }
  engine.on('started', (ev) =>
    unitLog(ev.service, `started, pid ${ev.pid}${ev.socket ? ` (triggered by ${ev.socket})` : ''}`),
  );
  // Each exit and each refusal is logged once, by the engine (a failed exit and a refusal as a
  // warning with systemd's words); the daemon adds only the successful exits, which the engine
  // keeps at debug.
  engine.on('service-exit', (ev) => {
    if (ev.result === 'success' && ev.signal === null)
      unitLog(ev.unit, `Main process exited, code=exited, status=${String(ev.code)}`);
  });

  const toReport = (loaded: LoadedEngineUnits, r: StartReport): LoadReport => ({
    sockets: r.listening.length,
    services: (loaded.units.services?.length ?? 0) + (loaded.units.templates?.length ?? 0),
    warnings: loaded.warnings,
    failed: [
      ...loaded.failed.map((f) => ({ ...f, stage: 'load' as const })),
      ...r.failed.map((f) => ({
        unit: f.unit,
        file: loaded.files.get(f.unit) ?? f.unit,
        stage: 'start' as const,
        messages: [`${f.unit}: ${f.error}`],
      })),
    ],
  });

  return {
    async start() {
      // User=/Group= are resolved from /etc/passwd and /etc/group as they are at each (re)load.
      clearUserCache();
      reserveListenerFds(opts.unitDirs);
      const loaded = await loadEngineUnits(opts.unitDirs, { readFiles: readSmallFiles });
      return toReport(loaded, await engine.start(loaded.units));
    },
    async reload() {
      clearUserCache();
      const loaded = await loadEngineUnits(opts.unitDirs, { readFiles: readSmallFiles });
      return toReport(loaded, await engine.reload(loaded.units));
    },
    stop: () => engine.stop(),
    async unitOperation(op, unit) {
      if (!engine.hasUnit(unit)) throw new MptcpdLiteError('UNIT_NOT_FOUND', `Unit ${unit} not found.`);
      const what = { start: 'Starting', stop: 'Stopping', restart: 'Restarting', reload: 'Reloading' }[op];
      unitLog(unit, `${what} (control request).`);
      if (op === 'start') await engine.startUnit(unit);
      else if (op === 'stop') await engine.stopUnit(unit);
      else if (op === 'restart') await engine.restartUnit(unit);
      else await engine.reloadUnit(unit);
    },
    listUnits: () => engine.listUnits().map(toUnitStatus),
    unitStatus(unit, lines) {
      const info = engine.unitInfo(unit);
      if (!info) return undefined;
      return {
        ...toUnitStatus(info),
        triggeredByStates: info.triggeredBy.map((t) => engine.unitInfo(t)?.activeState ?? 'inactive'),
        log: journal.tail(unit, lines).map((l) => `${l.time} ${l.message}`),
      };
    },
    listSockets() {
      const rows: SocketListing[] = [];
      for (const s of engine.status().sockets) {
        for (const l of s.listen)
          rows.push({
            listen: l.address,
            kind: l.kind,
            protocol: protocolOf(l.transport),
            unit: s.name,
            activates: s.service,
          });
      }
      return rows.sort((a, b) => a.listen.localeCompare(b.listen));
    },
    status() {
      const s = engine.status();
      return { sockets: s.sockets.map(toSocketStatus), services: s.services.map(toServiceStatus) };
    },
  };
}
