/**
 * The Engine over @mptcp/activation's ActivationEngine: units are loaded here (through @mptcp/unit,
 * platform/units.ts, so that each failed unit keeps its name and messages), the engine opens,
 * watches and activates. Its events become log lines.
 */
import { ActivationEngine, type ServiceSnapshot, type SocketStatus as EngineSocketStatus, type StartReport } from '@mptcp/activation';
import type { ServiceStatus, SocketStatus } from '../control/protocol.js';
import type { Logger } from '../log.js';
import { loadUnits, type LoadedUnits } from '../platform/units.js';
import type { ChildRegistry } from './children.js';
import type { Engine, LoadReport } from './engine.js';

export interface EngineOptions {
  unitDirs: string[];
  log: Logger;
  /** Where started service processes are recorded (found and killed again after a crash). */
  children?: ChildRegistry;
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
  return { unit: s.name, state: s.state, pid: s.pid, pids: s.pid !== undefined ? [s.pid] : [], restarts: s.restarts, result: s.result };
}

export async function createEngine(opts: EngineOptions): Promise<Engine> {
  const { log } = opts;
  const fmt = (m: string, f?: { unit?: string }): string => (f?.unit && !m.startsWith(`${f.unit}:`) ? `${f.unit}: ${m}` : m);
  const engine = new ActivationEngine({
    logger: {
      debug: (m, f) => log.debug(fmt(m, f)),
      info: (m, f) => log.info(fmt(m, f)),
      warn: (m, f) => log.warning(fmt(m, f)),
      error: (m, f) => log.error(fmt(m, f)),
    },
  });
  if (opts.children) {
    const children = opts.children;
    engine.on('started', (ev) => children.add(ev.pid));
    engine.on('service-exit', (ev) => children.remove(ev.pid));
  }
  engine.on('started', (ev) => log.info(`${ev.service}: started, pid ${ev.pid}${ev.socket ? ` (triggered by ${ev.socket})` : ''}`));
  // Each exit and each refusal is logged once, by the engine (a failed exit and a refusal as a
  // warning with systemd's words); the daemon adds only the successful exits, which the engine
  // keeps at debug.
  engine.on('service-exit', (ev) => {
    if (ev.result === 'success' && ev.signal === null) log.info(`${ev.unit}: Main process exited, code=exited, status=${String(ev.code)}`);
  });

  const toReport = (loaded: LoadedUnits, r: StartReport): LoadReport => ({
    sockets: r.listening.length,
    services: loaded.engineUnits.services.length + loaded.engineUnits.templates.length,
    warnings: loaded.warnings,
    failed: [...loaded.failed, ...r.failed.map((f) => ({ unit: f.unit, file: loaded.files.get(f.unit) ?? f.unit, stage: 'start' as const, messages: [`${f.unit}: ${f.error}`] }))],
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
