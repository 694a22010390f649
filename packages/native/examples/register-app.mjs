// An ordinary node:http app (nothing MPTCP in it but the isMptcp() probe in the answer).
// Run from packages/native after `pnpm build`:
//   NODE_MPTCP=1 node --import @mptcp/native/register examples/register-app.mjs
// The server listens MPTCP (any NODE_MPTCP but 0/3); with NODE_MPTCP=1 the global fetch dials MPTCP too.
import http from 'node:http';
import { isMptcp } from '@mptcp/native';

const server = http.createServer((req, res) => res.end(`server: MPTCP ${isMptcp(req.socket)}\n`));
server.listen(0, '127.0.0.1', async () => {
  const { port } = server.address();
  console.log(`listening on 127.0.0.1:${port} (try: mptcpize run curl http://127.0.0.1:${port}/)`);
  const res = await fetch(`http://127.0.0.1:${port}/`);
  process.stdout.write(await res.text());
  server.close();
});
