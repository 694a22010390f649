// Keeps a client connection across its own crash through the fd store (@mptcp/sd):
// first run: accepts one connection, says "stored\n", stores the connection's fd as 'client', crashes;
// next run: gets 'client' back after the listening socket in LISTEN_FDS and says "resumed by PID\n"
// on the same connection.
import net from 'node:net';
import { activatedSockets, listenFds, notify, storeFds } from '@mptcp/sd';

const fds = listenFds({ unsetEnvironment: false });
const client = fds.find((f) => f.name === 'client');
if (client) {
  const socket = new net.Socket({ fd: client.fd, readable: true, writable: true });
  await notify({ ready: true, status: 'resumed a stored connection' });
  socket.end(`resumed by ${process.pid}\n`);
} else {
  const { servers } = activatedSockets({
    onConnection: (socket) => {
      socket.write('stored\n', async () => {
        // The manager keeps its own copy of the connection; ours dies with us.
        await storeFds([socket._handle.fd], 'client');
        process.exit(1);
      });
    },
  });
  if (servers.size === 0) process.exit(2);
  await notify({ ready: true });
}
