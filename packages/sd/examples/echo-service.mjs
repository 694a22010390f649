// An echo service that runs unchanged under systemd, systemd-socket-activate and mptcpd-lite:
// takes its sockets with activatedSockets(), says READY=1 (a no-op without a manager), feeds the
// watchdog when WatchdogSec= asks for it. On SIGTERM it says STOPPING=1 and stops accepting; the
// connections it has finish, then it exits — the manager keeps the listening socket, so clients
// queue for the next process instead of being refused.
import { activatedSockets, notify, watchdog } from '@mptcp/sd';

const echo = (socket) => socket.pipe(socket);
const { servers, connections } = activatedSockets({ onConnection: echo });
for (const c of connections) echo(c);
if (servers.size === 0 && connections.length === 0) {
  console.error('echo-service: no sockets passed (run me socket-activated)');
  process.exit(1);
}
const dog = watchdog();
// Before READY=1: a stop may come as soon as the manager knows we are up.
process.on('SIGTERM', () => {
  void notify({ stopping: true });
  dog?.stop();
  for (const list of servers.values()) for (const server of list) server.close();
});
await notify({ ready: true, status: `echoing on ${[...servers.keys()].join(', ') || 'a connection'}` });
