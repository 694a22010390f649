/**
 * stdoutWriter (src/log.ts): the daemon's event lines with write(2) instead of process.stdout. A
 * reader that stops reading never blocks the writer (the pipe is made non-blocking; once full, the
 * rest queues in process.stdout), and every line arrives, in order, once it reads again.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const LOG = new URL('../dist/log.js', import.meta.url).href;

describe('stdoutWriter', () => {
  it('never blocks on a full pipe and loses nothing', async () => {
    // 4 MiB in 4,096 lines: far beyond a pipe's 64 KiB while the parent does not read.
    const script = `
      const { stdoutWriter } = await import(${JSON.stringify(LOG)});
      const write = stdoutWriter();
      const pad = 'x'.repeat(1000);
      for (let i = 0; i < 4096; i++) write(i + ' ' + pad + '\\n');
      process.stderr.write('WROTE\\n');`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pause();
    // The writer returned from all 4,096 calls while nobody read: it did not block.
    await new Promise<void>((resolve, reject) => {
      let err = '';
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        if (err.includes('WROTE\n')) resolve();
      });
      child.once('exit', () => reject(new Error(`child exited before writing everything: ${err}`)));
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stdout.resume();
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect(code).toBe(0);
    const lines = out.split('\n').filter((l) => l !== '');
    expect(lines.length).toBe(4096);
    lines.forEach((l, i) => expect(l.startsWith(`${i} `)).toBe(true));
  }, 60_000);
});
