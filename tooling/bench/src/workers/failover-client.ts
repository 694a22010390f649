/**
 * The fail-over client, run inside the lab's client namespace: connects over MPTCP (@mptcp/native),
 * receives everything, hashes it, and every `--sample-ms` records [epoch ms, bytes received,
 * rx_bytes of each interface in `--ifaces`] (sysfs of this namespace: `ip netns exec` remounts it).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs, num } from '../lib/args.js';
import { connect, isMptcp, type Transport } from '../lib/sockets.js';

const { opts } = parseArgs(process.argv.slice(2));
const ifaces = (opts.get('ifaces') ?? 'c1,c2').split(',');
const sampleMs = num(opts, 'sample-ms', 100);
const rx = (dev: string): number => {
  try {
    return Number(readFileSync(`/sys/class/net/${dev}/statistics/rx_bytes`, 'utf8'));
  } catch {
    return Number.NaN;
  }
};

const sock = await connect((opts.get('transport') ?? 'mptcp') as Transport, opts.get('host') ?? '127.0.0.1', num(opts, 'port', 5300));
const mptcp = await isMptcp(sock);
process.stdout.write(`CONNECTED ${Date.now()}\n`);
const h = createHash('sha256');
let bytes = 0;
const samples: number[][] = [];
const sample = (): void => {
  samples.push([Date.now(), bytes, ...ifaces.map(rx)]);
};
sample();
const timer = setInterval(sample, sampleMs);
sock.on('data', (d: Buffer) => {
  bytes += d.length;
  h.update(d);
});
sock.on('end', () => {
  clearInterval(timer);
  sample();
  process.stdout.write(`${JSON.stringify({ mptcp, bytes, sha256: h.digest('hex'), ifaces, samples })}\n`);
  sock.end();
});
sock.on('error', (e) => {
  process.stderr.write(`failover client: ${e.message}\n`);
  process.exit(1);
});
