/**
 * Kernel baselines with Python sockets: the same bulk transfer as the Node workers, but with no
 * Node in the way. A sanity check that separates "our code costs this" from "MPTCP itself costs
 * this"; the reported ratios always come from the Node runs.
 */
import { run } from './proc.js';

const PY = `
import socket, sys, time, threading
proto, total, rbuf = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto)
srv.bind(('127.0.0.1', 0)); srv.listen()
res = {}
def sink():
    c, _ = srv.accept(); n = 0; t0 = None; buf = bytearray(rbuf)
    while True:
        k = c.recv_into(buf)
        if t0 is None: t0 = time.perf_counter()
        if not k: break
        n += k
    res['s'] = time.perf_counter() - t0; res['n'] = n
th = threading.Thread(target=sink); th.start()
cl = socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto); cl.connect(srv.getsockname())
blk = bytes(1 << 20); sent = 0
while sent < total:
    cl.sendall(blk); sent += len(blk)
cl.close(); th.join()
print(res['n'] * 8 / res['s'])
`;

/** Bits per second of one Python loopback transfer (TCP = 6, MPTCP = 262), reading `readSize` per recv. */
export async function pythonLoopback(protocol: 6 | 262, bytes: number, readSize: number): Promise<number> {
  const out = await run('python3', ['-c', PY, String(protocol), String(bytes), String(readSize)]);
  return Number(out.trim());
}
