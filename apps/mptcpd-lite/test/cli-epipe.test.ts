/**
 * `mptcpd-lite status | head`: the reader closes its end early. The CLI stops writing quietly
 * (exit 0, no "Unhandled 'error' event" stack trace) instead of crashing on EPIPE.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { APP_ROOT } from './helpers/cli.js';

let cleanup: Array<() => void> = [];
afterEach(() => {
  for (const f of cleanup.splice(0)) f();
});

it('status piped into a reader that closes early exits 0 without a stack trace', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cli-epipe-'));
  const control = path.join(dir, 'control.sock');
  // A daemon stand-in whose status is far larger than a pipe (64 KiB): the CLI must block on it.
  const status = {
    pid: 1,
    uid: 0,
    version: 'test',
    startedAt: new Date(0).toISOString(),
    uptimeSec: 1,
    unitDirs: [dir],
    control,
    sockets: [],
    services: [],
    failed: [{ unit: 'big.socket', file: 'big.socket', stage: 'load', messages: ['x'.repeat(4 << 20)] }],
  };
  const server = net.createServer((c) => {
    c.once('data', () => c.end(JSON.stringify({ ok: true, status }) + '\n'));
    c.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(control, r));
  cleanup.push(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const cli = spawn(process.execPath, [path.join(APP_ROOT, 'dist', 'cli.cjs'), 'status', '--control', control], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  cli.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // Like `head -c 10`: take the first bytes, then close the read end.
  await new Promise<void>((resolve) =>
    cli.stdout.once('data', () => {
      cli.stdout.destroy();
      resolve();
    }),
  );
  const code = await new Promise<number | null>((resolve) => cli.once('close', (c) => resolve(c)));
  expect(stderr).not.toMatch(/Unhandled|EPIPE/);
  expect(code).toBe(0);
}, 60_000);
