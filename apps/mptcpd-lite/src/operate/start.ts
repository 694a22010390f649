/**
 * The operator-facing parts of `run`: `--endpoints auto` (endpoint manager) and `--metrics ADDR`
 * (OpenMetrics + status page). run.ts calls startOperate() before the engine starts (so a refusal,
 * e.g. another endpoint manager, exits before any socket is opened) and attach() once it runs.
 */
import { CliError, EXIT_ERROR } from '../exit-codes.js';
import type { Logger } from '../log.js';
import type { ServiceStatus, SocketStatus } from '../control/protocol.js';
import { pmFlagBits } from '../netlink/mptcp-pm.js';
import { netlinkRequest, netlinkRequestAsync } from '../netlink/transport.js';

export interface OperateOptions {
  endpoints?: string;
  endpointFlags?: string;
  endpointsIgnore?: string[];
  metrics?: string;
  statusAllow?: string[];
}

export interface EngineView {
  status(): { sockets: SocketStatus[]; services: ServiceStatus[] };
}

export interface Operate {
  attach(engine: EngineView): Promise<void>;
  stop(): Promise<void>;
}

export async function startOperate(opts: OperateOptions, log: Logger): Promise<Operate> {
  const stops: Array<() => void | Promise<void>> = [];
  let endpointCount = (): number | undefined => undefined;
  const mode = opts.endpoints ?? 'off';
  if (mode !== 'off' && mode !== 'auto') throw new CliError(`invalid --endpoints ${mode} (off or auto)`, EXIT_ERROR);
  if (mode === 'auto') {
    let flags: number;
    try {
      flags = pmFlagBits((opts.endpointFlags ?? 'signal').split(/[,\s]+/).filter(Boolean));
    } catch (err) {
      throw new CliError(`--endpoint-flags: ${(err as Error).message}`, EXIT_ERROR);
    }
    const { startEndpointManager, OtherManagerError } = await import('../endpoints/auto.js');
    try {
      const mgr = await startEndpointManager({
        request: netlinkRequest,
        requestAsync: netlinkRequestAsync,
        log,
        flags,
        ignoreManagers: opts.endpointsIgnore ?? [],
      });
      stops.push(() => mgr.stop());
      endpointCount = () => mgr.owned().length;
    } catch (err) {
      if (err instanceof OtherManagerError) throw new CliError(err.message, EXIT_ERROR, err.code);
      throw new CliError(`--endpoints auto: ${(err as Error).message}`, EXIT_ERROR, (err as { code?: string }).code);
    }
  }
  return {
    async attach(engine: EngineView) {
      if (!opts.metrics) return;
      const { startMetricsServer } = await import('../metrics/server.js');
      const server = await startMetricsServer({
        address: opts.metrics,
        allow: opts.statusAllow ?? [],
        log,
        engine,
        ownedEndpoints: endpointCount,
      });
      stops.push(() => server.close());
    },
    async stop() {
      for (const s of stops.splice(0).reverse()) await s();
    },
  };
}
