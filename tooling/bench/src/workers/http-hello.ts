/**
 * The server of the HTTP scenario: an ordinary node:http server (keep-alive), run with or without
 * `--import @mptcp/native/register`. Prints "LISTENING port"; on SIGTERM prints how many of its
 * connections were MPTCP ("CONNECTIONS total mptcp") and exits.
 */
import { createServer } from 'node:http';
import { isMptcp } from '@mptcp/native';

let total = 0;
let mptcp = 0;
const body = Buffer.from('hello world\n');
const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
  res.end(body);
});
server.on('connection', (socket) => {
  total++;
  if (isMptcp(socket)) mptcp++;
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const a = server.address();
  process.stdout.write(`LISTENING ${typeof a === 'object' && a ? a.port : ''}\n`);
});
process.on('SIGTERM', () => {
  process.stdout.write(`CONNECTIONS ${total} ${mptcp}\n`);
  process.exit(0);
});
