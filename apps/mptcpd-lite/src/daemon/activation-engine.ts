/**
 * The Engine over @mptcp/activation's ActivationEngine: units are loaded here (through
 * @mptcp/unit, platform/units.ts), the engine opens, watches and activates. Events become log lines.
 */
import * as activation from '@mptcp/activation';
import type { ServiceStatus, SocketStatus } from '../control/protocol.js';
import type { Logger } from '../log.js';
import { instanceResolver, loadUnits, type LoadedUnits } from '../platform/units.js';
import type { ServiceUnit } from '../platform/unit-types.js';
import type { Engine, LoadReport } from './engine.js';

export interface EngineOptions {
  unitDirs: string[];
  log: Logger;
}

/** The parts of @mptcp/activation's ActivationEngine the daemon uses (packages/activation/src/engine-types.ts). */
interface ListenStatusLike {
  kind: string;
  value: string;
  address: string;
  transport: string;
  protocol: number;
  fd: number;
}
interface SocketStatusLike {
  name: string;
  state: string;
  result: string;
  accept: boolean;
  service: string;
  listen: ListenStatusLike[];
  counters: { accepted: number; refused: number; triggers: number };
  connections: number;
  error?: string;
}
interface ServiceSnapshotLike {
  name: string;
  state: string;
  pid?: number;
  restarts: number;
  result?: string;
}
interface StartReportLike {
  listening: string[];
  failed: Array<{ unit: string; error: string; code?: string }>;
}
interface ActivationEngineLike {
  start(units: LoadedUnits['engineUnits']): Promise<StartReportLike>;
  reload(units: LoadedUnits['engineUnits']): Promise<StartReportLike>;
  stop(): Promise<void>;
  status(): { sockets: SocketStatusLike[]; services: ServiceSnapshotLike[] };
  on(event: string, listener: (ev: Record<string, unknown>) => void): unknown;
}
type LogFn = (message: string, fields?: { unit?: string }) => void;
type EngineCtor = new (options: { logger: { debug: LogFn; info: LogFn; warn: LogFn; error: LogFn }; instantiate?: (template: ServiceUnit, instanceName: string) => ServiceUnit }) => ActivationEngineLike;

function engineClass(): EngineCtor {
  const ctor = (activation as unknown as Record<string, unknown>).ActivationEngine;
  if (typeof ctor !== 'function') throw Object.assign(new Error('@mptcp/activation does not export ActivationEngine (yet): rebuild the workspace'), { code: 'ACTIVATION_MISSING' });
  return ctor as EngineCtor;
}

function protocolOf(l: ListenStatusLike): SocketStatus['listen'][number]['protocol'] {
  if (l.transport === 'mptcp' || l.transport === 'tcp' || l.transport === 'fallback') return l.transport;
  return 'other';
}

export function toSocketStatus(s: SocketStatusLike): SocketStatus {
  return {
    unit: s.name,
    state: s.state === 'failed' ? `failed (${s.result})` : s.state,
    accept: s.accept,
    listen: s.listen.map((l) => ({ address: l.address, kind: l.kind, protocol: protocolOf(l), fd: l.fd })),
    service: s.service,
    connections: s.connections,
    accepted: s.counters.accepted,
    refused: s.counters.refused,
    activations: s.counters.triggers,
  };
}

export function toServiceStatus(s: ServiceSnapshotLike): ServiceStatus {
  return { unit: s.name, state: s.state, pid: s.pid, pids: s.pid !== undefined ? [s.pid] : [], restarts: s.restarts, result: s.result };
}

export async function createEngine(opts: EngineOptions): Promise<Engine> {
  const { log } = opts;
  const fmt = (m: string, f?: { unit?: string }): string => (f?.unit && !m.startsWith(`${f.unit}:`) ? `${f.unit}: ${m}` : m);
  const Ctor = engineClass();
  const engine = new Ctor({
    logger: {
      debug: (m, f) => log.debug(fmt(m, f)),
      info: (m, f) => log.info(fmt(m, f)),
      warn: (m, f) => log.warning(fmt(m, f)),
      error: (m, f) => log.error(fmt(m, f)),
    },
    instantiate: instanceResolver(opts.unitDirs),
  });
  engine.on('started', (ev) => log.info(`${String(ev.service)}: started, pid ${String(ev.pid)}${ev.socket ? ` (triggered by ${String(ev.socket)})` : ''}`));
  engine.on('service-exit', (ev) => {
    const how = typeof ev.signal === 'string' ? `code=killed, status=${ev.signal.replace(/^SIG/, '')}` : `code=exited, status=${String(ev.code)}`;
    const ok = ev.result === 'success';
    log.log(ok ? 'info' : 'warning', `${String(ev.unit ?? ev.service ?? 'service')}: Main process exited, ${how}${ok ? '' : `; result ${String(ev.result)}`}${ev.restart === true ? '; scheduling restart' : ''}`);
  });
  engine.on('refused', (ev) => log.warning(`${String(ev.socket)}: ${String(ev.message)}`));

  const toReport = (loaded: LoadedUnits, r: StartReportLike): LoadReport => ({
    sockets: r.listening.length,
    services: loaded.engineUnits.services.length + loaded.engineUnits.templates.length,
    warnings: loaded.warnings,
    failed: [
      ...loaded.failed,
      ...r.failed.map((f) => ({ unit: f.unit, file: loaded.files.get(f.unit) ?? f.unit, stage: 'start' as const, messages: [`${f.unit}: ${f.error}`] })),
    ],
  });

  return {
    async start() {
      const loaded = await loadUnits(opts.unitDirs);
      return toReport(loaded, await engine.start(loaded.engineUnits));
    },
    async reload() {
      const loaded = await loadUnits(opts.unitDirs);
      return toReport(loaded, await engine.reload(loaded.engineUnits));
    },
    stop: () => engine.stop(),
    status() {
      const s = engine.status();
      return { sockets: s.sockets.map(toSocketStatus), services: s.services.map(toServiceStatus) };
    },
  };
}
