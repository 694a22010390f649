/**
 * The fail-over service: started by mptcpd-lite for one Accept=yes connection (fd 3, LISTEN_FDS=1),
 * or run standalone with `--listen HOST:PORT` (MPTCP through @mptcp/native). Sends `--bytes` of
 * pseudo-random data and writes the sha256 of what it sent to `--sha-file`.
 */
import { writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { parseArgs, num } from '../lib/args.js';
import { listen } from '../lib/sockets.js';
import { source } from '../lib/stream.js';

const { opts } = parseArgs(process.argv.slice(2));
const bytes = num(opts, 'bytes', 32 << 20);
const shaFile = opts.get('sha-file') ?? process.env.SHA_FILE;

async function serve(sock: Socket): Promise<void> {
  const r = await source(sock, { bytes, hash: true });
  if (shaFile) writeFileSync(shaFile, `${r.sha256 ?? ''}\n`);
  process.stdout.write(`${JSON.stringify(r)}\n`);
}

if (process.env.LISTEN_FDS === '1' && Number(process.env.LISTEN_PID) === process.pid) {
  await serve(new Socket({ fd: 3, readable: true, writable: true }));
} else {
  const spec = opts.get('listen') ?? '0.0.0.0:5300';
  const i = spec.lastIndexOf(':');
  const server = await listen('mptcp', spec.slice(0, i), Number(spec.slice(i + 1)));
  process.stdout.write('LISTENING\n');
  server.once('connection', (sock) => {
    server.close();
    void serve(sock);
  });
}
