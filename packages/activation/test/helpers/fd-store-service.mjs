// A Node service on @mptcp/sd that keeps state in the fd store across a crash. First start: opens
// STATE_FILE, stores the fd as 'state' (FDSTORE=1), crashes. Next start: finds 'state' in
// LISTEN_FDNAMES, reads the file through the fd it got back and appends a report line.
import { appendFileSync, openSync, readSync } from 'node:fs';
import { listenFds, notify, storeFds } from '@mptcp/sd';

const [report, stateFile] = process.argv.slice(2);
const fds = listenFds();
const stored = fds.find((f) => f.name === 'state');
if (!stored) {
  const fd = openSync(stateFile, 'r');
  await storeFds([fd], 'state');
  appendFileSync(report, JSON.stringify({ pid: process.pid, names: fds.map((f) => f.name), stored: true }) + '\n');
  await notify({ ready: true });
  process.exit(3);
}
const buf = Buffer.alloc(100);
const n = readSync(stored.fd, buf, 0, 100, 0);
appendFileSync(
  report,
  JSON.stringify({ pid: process.pid, names: fds.map((f) => f.name), content: buf.subarray(0, n).toString() }) + '\n',
);
await notify({ ready: true, status: 'recovered' });
setInterval(() => {}, 1 << 30);
