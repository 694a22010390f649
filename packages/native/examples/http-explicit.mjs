// HTTP over MPTCP without the hook: an MPTCP http server, http.get through MptcpHttpAgent and
// fetch through an undici MptcpAgent. Run from packages/native after `pnpm build`:
//   node examples/http-explicit.mjs
import http from 'node:http';
import { createHttpServer, MptcpHttpAgent, isMptcp } from '@mptcp/native';
import { MptcpAgent } from '@mptcp/native/undici';

const server = createHttpServer({}, (req, res) => res.end(`MPTCP ${isMptcp(req.socket)}`));
server.listen(0, '127.0.0.1', async () => {
  const url = `http://127.0.0.1:${server.address().port}/`;
  const agent = new MptcpHttpAgent({ keepAlive: true });
  const viaAgent = await new Promise((resolve) =>
    http.get(url, { agent }, (res) => res.on('data', (d) => resolve(String(d)))),
  );
  console.log('http.get + MptcpHttpAgent:', viaAgent);
  const dispatcher = new MptcpAgent();
  console.log('fetch + MptcpAgent:', await (await fetch(url, { dispatcher })).text());
  agent.destroy();
  await dispatcher.close();
  server.close();
});
