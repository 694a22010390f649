/**
 * A worker thread whose env terminates (process.exit() in it, an uncaught exception) right after an
 * addon callback ran JS: the addon must drop the termination, not abort the whole process
 * ("FATAL ERROR: Error::Error napi_define_properties", from wrapping it in a Napi::Error).
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const indexUrl = new URL('../dist/index.js', import.meta.url).href;

function runMain(how: string): string {
  const body = `
    import { Worker } from 'node:worker_threads';
    const worker = \`
      const { connect, listen } = await import(\${JSON.stringify(${JSON.stringify(indexUrl)})});
      const { once } = await import('node:events');
      const srv = listen({ host: '127.0.0.1', port: 0 }, (s) => s.end('x'));
      await once(srv, 'listening');
      const c = connect({ host: '127.0.0.1', port: srv.address().port });
      c.on('connect', () => {
        // In the poll callback's JS, as the addon's napi_make_callback returns.
        if (${JSON.stringify(how)} === 'exit') process.exit(0);
        throw new Error('boom');
      });
    \`;
    const seen = [];
    for (let i = 0; i < 3; i++) {
      await new Promise((resolve) => {
        const w = new Worker(worker, { eval: true, type: 'module' });
        w.on('error', (e) => seen.push('error ' + e.message));
        w.on('exit', (code) => { seen.push('exit ' + code); resolve(); });
      });
    }
    console.log(seen.join(', '));
  `;
  return execFileSync(process.execPath, ['--input-type=module', '-e', body], { encoding: 'utf8', timeout: 60_000 });
}

describe('worker threads that end inside an addon callback', () => {
  it('process.exit() in a connect listener ends the worker only', () => {
    expect(runMain('exit').trim()).toBe('exit 0, exit 0, exit 0');
  });

  it('an exception thrown in a connect listener is the worker’s error event, the process lives on', () => {
    expect(runMain('throw').trim()).toBe('error boom, exit 1, error boom, exit 1, error boom, exit 1');
  });
});
