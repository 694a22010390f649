// A small AF_UNIX control server without node:net (as mptcpd-lite's control socket): the node is
// created 0600 whatever the umask, one poll watcher per fd, read(2)/write(2) through node:fs, and
// end-of-file to the client after its reply. Run from packages/native after `pnpm build`:
//   node examples/unix-control.mjs [PATH]     # default: a socket in a new temporary directory
import { mkdtempSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accept, close, listenUnixStream, shutdownWrite, watchEvents } from '@mptcp/native';

const dir = process.argv[2] ? undefined : mkdtempSync(join(tmpdir(), 'unix-control-'));
const path = process.argv[2] ?? join(dir, 'control.sock');
const listener = listenUnixStream(path, { mode: 0o600 });
console.log(`listening on ${path}, mode ${(statSync(path).mode & 0o777).toString(8)}`);

const acceptor = watchEvents(listener, { readable: true, writable: false }, () => {
  for (let c = accept(listener); c !== null; c = accept(listener)) serve(c.fd);
});

// One request line in, one reply line out, then end-of-file; the fd is closed when the client closes.
function serve(fd) {
  let request = '';
  const buf = Buffer.alloc(4096);
  const w = watchEvents(fd, { readable: true, writable: false }, () => {
    for (;;) {
      let n;
      try {
        n = readSync(fd, buf);
      } catch (err) {
        if (err.code === 'EAGAIN') return; // nothing more yet
        n = 0;
      }
      if (n === 0) {
        w.stop();
        close(fd);
        return;
      }
      request += buf.toString('utf8', 0, n);
      if (request.includes('\n')) {
        writeSync(fd, `you said: ${request.split('\n')[0]}\n`); // a short reply: the socket has room
        shutdownWrite(fd);
        request = '';
      }
    }
  });
}

// A client (node:net here; any AF_UNIX client works): one request, read to end-of-file.
const client = netConnect(path, () => client.end('status\n'));
let reply = '';
client.on('data', (d) => (reply += d));
client.on('end', () => {
  console.log(`client got: ${reply.trim()}`);
  acceptor.stop();
  close(listener);
  rmSync(path, { force: true });
  if (dir) rmSync(dir, { recursive: true, force: true });
});
