// Smoke test of a prebuild on the Node that runs this file (scripts/smoke-arm64.sh runs it under
// qemu-aarch64 with Debian's arm64 Node): a scratch copy of the package with dist/ and ONLY
// prebuilds/linux-<arch>/ (no build/), loaded through the package's own loader (node-gyp-build), then
// a socket(IPPROTO_MPTCP) probe and an MPTCP echo through listen()/connect() on 127.0.0.1.
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const target = `${process.platform}-${process.arch}`;
const scratch = mkdtempSync(path.join(root, '.smoke-'));
const timer = setTimeout(() => {
  console.error('smoke: no result after 120 s');
  process.exit(1);
}, 120_000);
try {
  cpSync(path.join(root, 'dist'), path.join(scratch, 'dist'), { recursive: true });
  cpSync(path.join(root, 'package.json'), path.join(scratch, 'package.json'));
  cpSync(path.join(root, 'prebuilds', target), path.join(scratch, 'prebuilds', target), { recursive: true });
  symlinkSync(path.join(root, 'node_modules'), path.join(scratch, 'node_modules'));
  writeFileSync(path.join(scratch, '.gitignore'), '*\n');

  const m = await import(path.join(scratch, 'dist', 'index.js'));
  console.log(`node ${process.version} ${target} (${os.machine()}), kernel ${os.release()}`);
  console.log(`addon loaded: ${m.bindingAvailable()} (prebuilds/${target})`);
  if (!m.bindingAvailable()) {
    m.sysconst('AF_INET'); // throws the loader's error, naming the cause
  }
  console.log(`AF_INET6=${m.sysconst('AF_INET6')} SOCK_STREAM=${m.sysconst('SOCK_STREAM')}`);
  console.log(`mptcpSupport: ${JSON.stringify(m.mptcpSupport())}`);

  const server = m.listen({ host: '127.0.0.1', port: 0, mptcp: 'require' }, (c) => c.pipe(c));
  await new Promise((resolve, reject) => server.once('listening', resolve).once('error', reject));
  const { port } = server.address();
  const socket = m.connect({ host: '127.0.0.1', port, mptcp: 'require' });
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const reply = await new Promise((resolve, reject) => {
    let got = '';
    socket.on('data', (d) => {
      got += d;
      if (got.endsWith('\n')) resolve(got);
    });
    socket.once('error', reject);
    socket.write(`hello from ${process.arch}\n`);
  });
  console.log(`echo over 127.0.0.1:${port}: ${JSON.stringify(reply)}, client isMptcp=${m.isMptcp(socket)}`);
  if (reply !== `hello from ${process.arch}\n` || !m.isMptcp(socket))
    throw new Error('smoke: echo failed or not MPTCP');
  socket.destroy();
  server.close();
  console.log('smoke OK');
} finally {
  clearTimeout(timer);
  rmSync(scratch, { recursive: true, force: true });
}
