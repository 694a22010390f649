/**
 * Accept=no with a real peer: systemd's own socket proxy, activated on an MPTCP socket. proxyd
 * calls sd_listen_fds() itself, so it only works when LISTEN_PID is its own PID.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivationEngine } from '../src/index.js';
import { mptcp, need, python3, socketProxyd } from './helpers/capability.js';
import { loadUnits } from './helpers/load.js';
import { testLogger } from './helpers/log.js';
import { clientOnce, unitDir, waitFor, loopback } from './helpers/run.js';

let engine: ActivationEngine | undefined;
let backend: net.Server | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
  backend?.close();
  backend = undefined;
});

describe('Accept=no with systemd-socket-proxyd', () => {
  it('proxies an MPTCP connection to a backend, started on the first connection', async (ctx) => {
    need(ctx, mptcp, python3, socketProxyd);
    backend = net.createServer((c) => {
      c.once('data', (d) => c.end(`backend got: ${d.toString()}`));
    });
    await new Promise<void>((r) => backend?.listen(0, '127.0.0.1', r));
    const backendPort = (backend.address() as net.AddressInfo).port;
    const dir = unitDir({
      'proxy.socket': `[Socket]\nListenStream=${await loopback()}\nSocketProtocol=mptcp\n`,
      'proxy.service': `[Service]\nExecStart=/usr/lib/systemd/systemd-socket-proxyd 127.0.0.1:${backendPort}\n`,
    });
    engine = new ActivationEngine({ logger: testLogger() });
    const report = await engine.start(await loadUnits(dir));
    expect(report.failed).toEqual([]);
    const sock = engine.socket('proxy.socket');
    expect(sock?.state).toBe('listening');
    expect(sock?.listen[0]).toMatchObject({ transport: 'mptcp', protocol: 262 });
    const port = sock?.listen[0]?.port as number;
    expect(engine.status().services.find((s) => s.name === 'proxy.service')?.pid).toBeUndefined();

    const reply = await clientOnce(port, { send: 'hello', keepOpen: true });
    expect(reply.protocol).toBe(262);
    expect(reply.received).toBe('backend got: hello');
    const svc = await waitFor(() => engine?.status().services.find((s) => s.name === 'proxy.service'));
    expect(svc.starts).toBe(1);
    expect(engine.socket('proxy.socket')).toMatchObject({ state: 'running', counters: { triggers: 1 } });

    // proxyd closes the client side once the backend is done; the service keeps the fds: a second connection goes to the same proxyd, no new trigger.
    const again = await clientOnce(port, { send: 'again', keepOpen: true });
    expect(again.received).toBe('backend got: again');
    expect(engine.socket('proxy.socket')?.counters.triggers).toBe(1);
  });
});
