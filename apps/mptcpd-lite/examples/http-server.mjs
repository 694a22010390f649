#!/usr/bin/env node
// An HTTP service for socket activation: it never binds, it serves the listening socket(s) passed by
// mptcpd-lite (or systemd, or systemd-socket-activate) through LISTEN_FDS. Works for MPTCP and TCP
// alike — the socket was created by the activator.
import http from 'node:http';
import { listenFds } from '@mptcp/activation/listen-fds';

const fds = listenFds();
if (fds.length === 0) {
  console.error('http-server: no sockets passed (LISTEN_FDS/LISTEN_PID unset): start me through mptcpd-lite');
  process.exit(1);
}
let requests = 0;
const handler = (req, res) => {
  requests += 1;
  const body = JSON.stringify({
    greeting: process.env.GREETING ?? 'hello',
    pid: process.pid,
    fds: fds.map((f) => `${f.fd}:${f.name}`),
    requests,
    path: req.url,
    remote: `${req.socket.remoteAddress}:${req.socket.remotePort}`,
  });
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body + '\n'),
    connection: 'close',
  });
  res.end(body + '\n');
};
const servers = fds.map(({ fd }) => http.createServer(handler).listen({ fd }));
const stop = () => {
  for (const s of servers) s.close();
  setTimeout(() => process.exit(0), 100).unref();
  process.exitCode = 0;
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
