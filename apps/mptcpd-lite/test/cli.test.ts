import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mptcpUnavailable, need } from './helpers/capability.js';
import { APP_ROOT, runCli } from './helpers/cli.js';

const COMMANDS = ['run', 'status', 'verify', 'activate', 'check', 'connect', 'info', 'dev'];

describe('mptcpd-lite CLI', () => {
  it.each(COMMANDS)('%s --help shows examples and exit codes', async (cmd) => {
    const r = await runCli([cmd, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Usage: mptcpd-lite ${cmd}`);
    expect(r.stdout).toContain('Examples:');
    expect(r.stdout).toMatch(/Exit codes:\n {2}0 /);
  });

  it('lists every command in the top-level help', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    for (const c of COMMANDS) expect(r.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
  });

  it.each([
    [['bogus'], "unknown command 'bogus'"],
    [['check', '--bogus'], "unknown option '--bogus'"],
    [['connect'], "missing required argument 'target'"],
    [['connect', '127.0.0.1:1', '--mptcp', 'maybe'], "argument 'maybe' is invalid"],
  ])('usage error %j exits 2', async (args, message) => {
    const r = await runCli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it('--version prints the version', async () => {
    const r = await runCli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe('the demo (dist/demo.js)', () => {
  it('activates both example services over MPTCP and exits 0', async (ctx) => {
    need(ctx, mptcpUnavailable());
    const r = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const child = spawn(process.execPath, [path.join(APP_ROOT, 'dist', 'demo.js')], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('close', (code) => resolve({ code, out, err }));
    });
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('demo OK');
    expect(r.out.match(/protocol {6}262 \(IPPROTO_MPTCP\), mptcp/g)).toHaveLength(2);
    expect(r.out).toContain('echoed        "hello over MPTCP\\n"');
    expect(r.out).toMatch(/response {6}HTTP\/1\.1 200 OK/);
  }, 90_000);
});
