#!/usr/bin/env node
// Activation latency on loopback, driven the way a benchmark script would drive the engine:
// units in a temp dir → loadEngineUnits → ActivationEngine → N sequential MPTCP clients (Python).
//   node scripts/latency.mjs [N]     (after `pnpm --filter @mptcp/activation build`)
// Prints the median connect→EOF time per connection for Accept=yes (one /bin/echo per connection)
// and Accept=no (a Python service that answers one connection and exits, re-triggered each time).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ActivationEngine, loadEngineUnits } from '../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const helpers = join(here, '..', 'test', 'helpers');
const n = Number(process.argv[2] ?? 200);

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });

async function scenario(name, files) {
  const dir = mkdtempSync(join(tmpdir(), 'act-latency-'));
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
  const { units, errors } = await loadEngineUnits([dir]);
  if (errors.length) throw new Error(errors.join('\n'));
  const engine = new ActivationEngine({ serviceOutput: 'ignore' });
  await engine.start(units);
  const sock = engine.status().sockets[0];
  const port = sock.listen[0].port;
  // Asynchronously: the engine runs in this process and must keep its event loop.
  const { stdout } = await promisify(execFile)(
    'python3',
    [join(helpers, 'client.py'), 'seq', '127.0.0.1', String(port), String(n)],
    { encoding: 'utf8' },
  );
  const out = JSON.parse(stdout);
  await engine.stop();
  console.log(
    `${name}: ${out.answered}/${n} answered, median ${out.median_ms.toFixed(2)} ms, total ${out.seconds.toFixed(2)} s (${sock.listen[0].transport})`,
  );
}

await scenario('Accept=yes, /bin/echo per connection', {
  'lat.socket': `[Socket]\nListenStream=127.0.0.1:${await freePort()}\nSocketProtocol=mptcp\nAccept=yes\nTriggerLimitBurst=0\n`,
  'lat@.service': '[Service]\nExecStart=/bin/echo ok\nStandardInput=socket\n',
});
await scenario('Accept=no, python one-shot service re-triggered', {
  'lat.socket': `[Socket]\nListenStream=127.0.0.1:${await freePort()}\nSocketProtocol=mptcp\nTriggerLimitBurst=0\n`,
  'lat.service': `[Unit]\nStartLimitBurst=0\n[Service]\nExecStart=/usr/bin/python3 ${join(helpers, 'one-shot-server.py')}\n`,
});
