/**
 * The service of the Accept=no benchmarks: a Node echo server. Activated, it serves the listening
 * socket it is handed (LISTEN_FDS, fd 3); standalone it listens itself (`--port`). `--once` exits
 * after the first connection closes, so every connection is a cold activation.
 */
import { appendFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { parseArgs, num } from '../lib/args.js';

const { opts } = parseArgs(process.argv.slice(2));
const once = opts.get('once') === 'true';
const activated = process.env.LISTEN_FDS !== undefined && Number(process.env.LISTEN_PID) === process.pid;

// `--timing-file F`: appends one JSON line per connection with wall-clock ms (sub-ms precision) of
// this process's start (performance.timeOrigin: right after exec) and of the connection callback, so
// the cold benchmark can split connect → exec (the activator) from exec → first byte (Node's boot).
const timingFile = opts.get('timing-file');
const server = createServer((sock) => {
  if (timingFile)
    appendFileSync(
      timingFile,
      `${JSON.stringify({ pid: process.pid, execAt: performance.timeOrigin, connectionAt: performance.timeOrigin + performance.now() })}\n`,
    );
  sock.on('data', (d) => sock.write(d));
  sock.on('end', () => sock.end());
  sock.on('error', () => sock.destroy());
  if (once) sock.on('close', () => process.exit(0));
});
if (activated) {
  server.listen({ fd: 3 });
} else {
  server.listen({ host: opts.get('host') ?? '127.0.0.1', port: num(opts, 'port', 0), backlog: 511 }, () => {
    const a = server.address();
    process.stdout.write(`LISTENING ${typeof a === 'object' && a ? a.port : ''}\n`);
  });
}
