// A Node service using @mptcp/activation/listen-fds: answers each connection with what it got,
// exits after the first one when started with `once`.
import { activatedSockets } from '../../dist/listen-fds.js';

const once = process.argv.includes('once');
const got = activatedSockets({
  onPidMismatch: 'throw',
  onConnection(socket, name) {
    const leftover = Object.keys(process.env).filter((k) => k.startsWith('LISTEN_'));
    socket.end(
      `${JSON.stringify({ name, pid: process.pid, fds: got.fds, leftover, other: got.other.map((o) => o.name) })}\n`,
      () => {
        if (once) process.exit(0);
      },
    );
  },
});
// Accept=yes: the connection itself was passed.
for (const c of got.connections) {
  c.end(`${JSON.stringify({ name: 'connection', pid: process.pid, fds: got.fds, leftover: [] })}\n`, () =>
    process.exit(0),
  );
}
if (got.fds.length === 0) {
  console.error('no fds passed');
  process.exit(3);
}
