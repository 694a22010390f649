// MPTCP echo server + client. Run from packages/native after `pnpm build`:
//   node examples/echo.mjs                 # both ends on 127.0.0.1
//   node examples/echo.mjs server 5000     # server only (all addresses, dual stack)
//   node examples/echo.mjs client HOST 5000
import { connect, listen, isMptcp, mptcpStatus, mptcpSupport, subflows } from '@mptcp/native';

const [role = 'both', a, b] = process.argv.slice(2);
const show = (who, socket) => {
  const flows = subflows(socket).map(
    (f) => `${f.local.address}:${f.local.port} -> ${f.remote.address}:${f.remote.port}`,
  );
  console.log(`${who}: isMptcp=${isMptcp(socket)}`, mptcpStatus(socket), flows);
};

function server(port, host) {
  const s = listen({ port, host }, (socket) => {
    show('server', socket);
    socket.pipe(socket);
  });
  s.on('listening', () => console.log('listening on', s.address(), mptcpSupport()));
  return s;
}

function client(host, port, done) {
  const socket = connect({ host, port, mptcp: 'prefer', timeout: 5000 }, () => {
    show('client', socket);
    socket.end('hello over MPTCP\n');
  });
  socket.on('data', (d) => process.stdout.write(`echo: ${d}`));
  socket.on('error', (e) => console.error(`${e.code}: ${e.message}`));
  socket.on('close', () => done?.());
}

if (role === 'server') server(Number(a ?? 5000));
else if (role === 'client') client(a ?? '127.0.0.1', Number(b ?? 5000));
else {
  const s = server(0, '127.0.0.1');
  s.on('listening', () => client('127.0.0.1', s.address().port, () => s.close()));
}
