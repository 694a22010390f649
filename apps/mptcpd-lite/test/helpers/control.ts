/** Raw control-socket conversations (to send what the CLI never would). */
import net from 'node:net';

/** Sends `data` and collects reply lines until `count` lines arrived or the peer closed. */
export function converse(path: string, data: string | Buffer, count: number, timeoutMs = 5000): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const s = net.connect(path);
    let buf = '';
    const done = (): void => {
      clearTimeout(t);
      s.destroy();
      resolve(buf.split('\n').filter((l) => l.length > 0));
    };
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error(`no ${count} replies within ${timeoutMs} ms: ${buf}`));
    }, timeoutMs);
    s.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.split('\n').filter((l) => l.length > 0).length >= count) done();
    });
    s.on('close', done);
    s.on('error', () => undefined);
    s.write(data);
  });
}
