/**
 * One end of a bulk transfer, run as its own process (possibly inside a lab namespace):
 *
 *   bulk.js serve   --transport tcp|mptcp --host H --port P --role sink|source [--bytes N] [--seconds S] [--sample-ms 100] [--cc bbr|cubic|…]
 *   bulk.js connect --transport tcp|mptcp --host H --port P --role sink|source [...]
 *
 * `serve` prints `LISTENING` when ready and serves exactly one connection. Each end prints one JSON
 * line with what it measured; the sink's figures are the ones the benchmark uses.
 */
import { parseArgs, num } from '../lib/args.js';
import { connect, isMptcp, listen, type Transport } from '../lib/sockets.js';
import { sink, source } from '../lib/stream.js';
import type { Socket } from 'node:net';
import { fdOf, mptcpInfo, readPathStats, setSocketOption } from '@mptcp/native';

const IPPROTO_TCP = 6;
const TCP_CONGESTION = 13;

const { positional, opts } = parseArgs(process.argv.slice(2));
const mode = positional[0];
const transport = (opts.get('transport') ?? 'tcp') as Transport;
const host = opts.get('host') ?? '127.0.0.1';
const port = num(opts, 'port', 0);
const role = opts.get('role') ?? 'sink';
const hash = opts.get('hash') === 'true';

const cc = opts.get('cc');

async function work(sock: Socket): Promise<void> {
  const mptcp = isMptcp(sock);
  // CPU time of this whole process (all threads) for the transfer: bytes per CPU-second is the
  // figure that survives a loaded machine, where the rate mostly says how much CPU a run got.
  const cpu0 = process.cpuUsage();
  const cpuSeconds = (): number => {
    const d = process.cpuUsage(cpu0);
    return (d.user + d.system) / 1e6;
  };
  // TCP_CONGESTION on this end's socket (MPTCP: the kernel applies it to every subflow).
  if (cc) setSocketOption(fdOf(sock), IPPROTO_TCP, TCP_CONGESTION, cc);
  if (role === 'sink') {
    // The most subflows seen during the transfer (sampled every 50 ms): did the second path join?
    let maxSubflows = mptcp ? 1 : 0;
    const sample = (): void => {
      try {
        const info = mptcp ? mptcpInfo(sock) : null;
        if (info && info.subflows + 1 > maxSubflows) maxSubflows = info.subflows + 1;
      } catch {
        // closed meanwhile
      }
    };
    const sampler = mptcp ? setInterval(sample, 50) : undefined;
    const r = await sink(sock, { hash, sampleMs: num(opts, 'sample-ms', 0) });
    if (sampler) clearInterval(sampler);
    // The read path (@mptcp/native read-path.ts): reads, bytes and the largest read at this end.
    const readPath = readPathStats(sock) ?? null;
    process.stdout.write(
      `${JSON.stringify({ role, transport, mptcp, maxSubflows, readPath, cpuSeconds: cpuSeconds(), ...r })}\n`,
    );
  } else {
    const bytes = opts.has('bytes') ? num(opts, 'bytes', 0) : undefined;
    const seconds = opts.has('seconds') ? num(opts, 'seconds', 0) : undefined;
    const r = await source(sock, {
      ...(bytes !== undefined && { bytes }),
      ...(seconds !== undefined && { seconds }),
      hash,
    });
    process.stdout.write(`${JSON.stringify({ role, transport, mptcp, cpuSeconds: cpuSeconds(), ...r })}\n`);
  }
}

if (mode === 'serve') {
  const server = await listen(transport, host, port);
  const addr = server.address();
  process.stdout.write(`LISTENING ${typeof addr === 'object' && addr ? addr.port : port}\n`);
  server.once('connection', (sock) => {
    server.close();
    void work(sock).catch((e: unknown) => {
      process.stderr.write(`bulk serve: ${String(e)}\n`);
      process.exitCode = 1;
    });
  });
} else if (mode === 'connect') {
  const sock = await connect(transport, host, port);
  await work(sock);
} else {
  process.stderr.write('usage: bulk.js serve|connect --transport tcp|mptcp --host H --port P --role sink|source\n');
  process.exit(2);
}
