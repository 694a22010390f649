/**
 * `run --metrics ADDR`: one HTTP listener serving /metrics (OpenMetrics or Prometheus text, by
 * Accept), / (the status page) and /status.json (what the page polls). Clients from loopback are
 * served; others get 403 unless their network is listed in --status-allow.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BlockList, isIP } from 'node:net';
import { CliError, EXIT_ERROR } from '../exit-codes.js';
import { toJson } from '../json.js';
import type { Logger } from '../log.js';
import { netlinkRequestAsync } from '../netlink/transport.js';
import type { EngineView } from '../operate/start.js';
import { metricFamilies, takeSnapshot } from './snapshot.js';
import {
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  renderOpenMetrics,
  renderPrometheusText,
  wantsOpenMetrics,
} from './exposition.js';
import { statusPage } from './status-page.js';

export interface MetricsServerOptions {
  address: string;
  allow: readonly string[];
  log: Logger;
  engine: EngineView;
  ownedEndpoints?: () => number | undefined;
}

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/** host:port, [v6]:port or :port (= 127.0.0.1:port). */
export function parseListenAddress(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(text);
  const port = Number(m?.[3]);
  const host = m?.[1] ?? m?.[2] ?? '';
  if (!m || port > 65535 || (host !== '' && isIP(host) === 0 && host !== 'localhost'))
    throw new CliError(`--metrics ${text}: expected HOST:PORT, [IPV6]:PORT or :PORT`, EXIT_ERROR);
  return { host: host === '' ? '127.0.0.1' : host, port };
}

/** Loopback plus the configured networks (CIDR or single addresses). */
export function allowList(allow: readonly string[]): BlockList {
  const list = new BlockList();
  list.addSubnet('127.0.0.0', 8, 'ipv4');
  list.addAddress('::1', 'ipv6');
  for (const a of allow) {
    const [net, len] = a.split('/') as [string, string | undefined];
    const v = isIP(net);
    if (v === 0) throw new CliError(`--status-allow ${a}: not an address or CIDR`, EXIT_ERROR);
    const type = v === 4 ? 'ipv4' : 'ipv6';
    if (len === undefined) list.addAddress(net, type);
    else {
      const n = Number(len);
      if (!/^\d+$/.test(len) || n > (v === 4 ? 32 : 128))
        throw new CliError(`--status-allow ${a}: bad prefix length`, EXIT_ERROR);
      list.addSubnet(net, n, type);
    }
  }
  return list;
}

function clientAllowed(list: BlockList, remote: string | undefined): boolean {
  if (!remote) return false;
  const v4mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remote)?.[1];
  if (v4mapped) return list.check(v4mapped, 'ipv4');
  return list.check(remote, isIP(remote) === 6 ? 'ipv6' : 'ipv4');
}

export async function startMetricsServer(opts: MetricsServerOptions): Promise<MetricsServer> {
  const { host, port } = parseListenAddress(opts.address);
  const allowed = allowList(opts.allow);
  const snapshot = () =>
    takeSnapshot({
      request: netlinkRequestAsync,
      engine: opts.engine,
      ...(opts.ownedEndpoints ? { ownedEndpoints: opts.ownedEndpoints } : {}),
    });
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!clientAllowed(allowed, req.socket.remoteAddress)) {
      res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
      res.end(
        `403 Forbidden: ${req.socket.remoteAddress ?? 'this client'} is not allowed (loopback only; allow networks with --status-allow)\n`,
      );
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' });
      res.end();
      return;
    }
    try {
      if (path === '/metrics') {
        const fams = metricFamilies(await snapshot());
        const om = wantsOpenMetrics(req.headers.accept);
        res.writeHead(200, {
          'content-type': om ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE,
          'cache-control': 'no-store',
        });
        res.end(om ? renderOpenMetrics(fams) : renderPrometheusText(fams));
      } else if (path === '/status.json') {
        const body = toJson(await snapshot());
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
        res.end(body);
      } else if (path === '/') {
        const page = statusPage(toJson(await snapshot()));
        res.writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'cache-control': 'no-store',
          'content-security-policy':
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:",
        });
        res.end(page);
      } else {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('not found: try / (status page), /metrics, /status.json\n');
      }
    } catch (err) {
      opts.log.error(`metrics: ${path}: ${err instanceof Error ? err.message : String(err)}`);
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('internal error (see the daemon log)\n');
    }
  };
  // node:http is loaded here, not with the module: the daemon's bundle holds this module and would
  // otherwise load it (~10 builtin modules) at every start, --metrics or not.
  const { createServer } = await import('node:http');
  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new CliError(`--metrics ${opts.address}: ${err.code ?? ''} ${err.message}`, EXIT_ERROR, err.code)),
    );
    server.listen(port, host, () => resolve());
  });
  const a = server.address();
  const bound = typeof a === 'object' && a ? a : { address: host, port };
  const url = `http://${bound.address.includes(':') ? `[${bound.address}]` : bound.address}:${bound.port}/`;
  opts.log.notice(
    `metrics: serving ${url}metrics and the status page at ${url}${opts.allow.length ? ` (allowed besides loopback: ${opts.allow.join(', ')})` : ' (loopback clients only)'}`,
  );
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
