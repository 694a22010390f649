/**
 * The fail-over client, run inside the lab's client namespace: connects over MPTCP (@mptcp/native),
 * receives everything, hashes it, and every `--sample-ms` records [epoch ms, bytes received,
 * rx_bytes of each interface in `--ifaces`] (sysfs of this namespace: `ip netns exec` remounts it).
 * Prints `FLOWING` once every interface has received ≥ 64 KiB (both subflows carry data), and gives
 * up after `--timeout-s` with what it has (exit 1).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs, num } from '../lib/args.js';
import { connect, isMptcp, type Transport } from '../lib/sockets.js';

const { opts } = parseArgs(process.argv.slice(2));
const ifaces = (opts.get('ifaces') ?? 'c1,c2').split(',');
const sampleMs = num(opts, 'sample-ms', 100);
const timeoutS = num(opts, 'timeout-s', 90);
const rx = (dev: string): number => {
  try {
    return Number(readFileSync(`/sys/class/net/${dev}/statistics/rx_bytes`, 'utf8'));
  } catch {
    return Number.NaN;
  }
};

const sock = await connect(
  (opts.get('transport') ?? 'mptcp') as Transport,
  opts.get('host') ?? '127.0.0.1',
  num(opts, 'port', 5300),
);
const mptcp = isMptcp(sock);
process.stdout.write(`CONNECTED ${Date.now()}\n`);
const h = createHash('sha256');
let bytes = 0;
const samples: number[][] = [];
const base = ifaces.map(rx);
let flowing = false;
const sample = (): void => {
  const now = ifaces.map(rx);
  samples.push([Date.now(), bytes, ...now]);
  if (!flowing && now.every((v, i) => v - base[i]! >= 65536)) {
    flowing = true;
    process.stdout.write(`FLOWING ${Date.now()}\n`);
  }
};
const giveUp = setTimeout(() => {
  process.stderr.write(`failover client: gave up after ${timeoutS} s with ${bytes} bytes\n`);
  process.stdout.write(`${JSON.stringify({ mptcp, bytes, sha256: '', ifaces, samples, timedOut: true })}\n`);
  process.exit(1);
}, timeoutS * 1000);
sample();
const timer = setInterval(sample, sampleMs);
sock.on('data', (d: Buffer) => {
  bytes += d.length;
  h.update(d);
});
sock.on('end', () => {
  clearInterval(timer);
  clearTimeout(giveUp);
  sample();
  process.stdout.write(`${JSON.stringify({ mptcp, bytes, sha256: h.digest('hex'), ifaces, samples })}\n`);
  sock.end();
});
sock.on('error', (e) => {
  process.stderr.write(`failover client: ${e.message}\n`);
  process.exit(1);
});
