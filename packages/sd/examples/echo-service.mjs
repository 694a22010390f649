// An echo service that runs unchanged under systemd, systemd-socket-activate and mptcpd-lite:
// takes its sockets with activatedSockets(), says READY=1 (a no-op without a manager), feeds the
// watchdog when WatchdogSec= asks for it, and says STOPPING=1 on SIGTERM.
import { activatedSockets, notify, watchdog } from '@mptcp/sd';

const echo = (socket) => socket.pipe(socket);
const { servers, connections } = activatedSockets({ onConnection: echo });
for (const c of connections) echo(c);
if (servers.size === 0 && connections.length === 0) {
  console.error('echo-service: no sockets passed (run me socket-activated)');
  process.exit(1);
}
watchdog();
await notify({ ready: true, status: `echoing on ${[...servers.keys()].join(', ') || 'a connection'}` });
process.on('SIGTERM', () => {
  void notify({ stopping: true }).finally(() => process.exit(0));
});
