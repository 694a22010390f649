// Loopback throughput, MPTCP vs TCP, through @mptcp/native (a helper for tooling/bench, not a benchmark
// suite). The sink runs in a child process so sender and receiver do not share one event loop.
//   node scripts/loopback-throughput.mjs [MiB=1024] [runs=5]
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { connect, listen, isMptcp } from '@mptcp/native';

if (process.argv[2] === 'sink') {
  const mode = process.argv[3] === 'tcp' ? false : 'require';
  const server = listen({ host: '127.0.0.1', port: 0, mptcp: mode }, (s) => {
    let n = 0;
    const total = Number(process.argv[4]);
    s.on('data', (d) => {
      n += d.length;
      if (n >= total) s.end('k');
    });
  });
  server.on('listening', () => process.send({ port: server.address().port }));
  process.on('message', () => server.close(() => process.exit(0)));
} else {
  const mib = Number(process.argv[2] ?? 1024);
  const runs = Number(process.argv[3] ?? 5);
  const total = mib * 1024 * 1024;
  const chunk = Buffer.alloc(256 * 1024, 0x5a);
  const results = {};
  for (const mode of ['mptcp', 'tcp']) {
    const rates = [];
    for (let r = 0; r < runs; r++) {
      const sink = fork(fileURLToPath(import.meta.url), ['sink', mode, String(total)]);
      const [{ port }] = await once(sink, 'message');
      const c = connect({ host: '127.0.0.1', port, mptcp: mode === 'tcp' ? false : 'require' });
      await once(c, 'connect');
      if (isMptcp(c) !== (mode === 'mptcp')) throw new Error(`expected ${mode}`);
      const t0 = process.hrtime.bigint();
      let sent = 0;
      while (sent < total) {
        sent += chunk.length;
        if (!c.write(chunk)) await once(c, 'drain');
      }
      await once(c, 'data');
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      rates.push((total * 8) / secs / 1e9);
      c.destroy();
      sink.send('stop');
      await once(sink, 'exit');
    }
    rates.sort((a, b) => a - b);
    results[mode] = {
      medianGbps: Number(rates[Math.floor(rates.length / 2)].toFixed(2)),
      runs: rates.map((x) => Number(x.toFixed(2))),
    };
  }
  console.log(JSON.stringify({ mib, ...results }));
}
