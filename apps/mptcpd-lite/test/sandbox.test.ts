/**
 * Sandboxing the daemon does not enforce fails closed, end to end: `run` refuses the instance of a
 * template with ProtectKernelTunables=/ProtectKernelLogs=/SystemCallFilter= (status=226/NAMESPACE, FILE:LINE in
 * the log) while another socket of the same daemon serves; `run --allow-unenforced-sandbox` serves
 * it with a warning; `verify` reports it as an error (a warning with the flag).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '@mptcp/testkit/net';
import { afterEach, describe, expect, it } from 'vitest';
import { type Running, runCli, startCli, stopProcess } from './helpers/cli.js';

let daemon: Running | undefined;
afterEach(async () => {
  if (daemon) await stopProcess(daemon);
  daemon = undefined;
});

const PROBE = `/bin/sh -c 'grep -E "^(CapBnd|NoNewPrivs)" /proc/self/status'`;

async function units(): Promise<{ dir: string; c: number; plain: number }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mdl-sandbox-'));
  const [c, plain] = [await freePort(), await freePort()];
  const files: Record<string, string> = {
    'c.socket': `[Socket]\nListenStream=127.0.0.1:${c}\nAccept=yes\n`,
    'c@.service': `[Service]\nExecStart=${PROBE}\nStandardInput=socket\nProtectKernelTunables=yes\nProtectKernelLogs=yes\nSystemCallFilter=@system-service\n`,
    'plain.socket': `[Socket]\nListenStream=127.0.0.1:${plain}\nAccept=yes\n`,
    'plain@.service': `[Service]\nExecStart=${PROBE}\nStandardInput=socket\nPrivateTmp=no\n`,
  };
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return { dir, c, plain };
}

/** Connects, reads to EOF. */
function fetch(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const s = net.connect(port, '127.0.0.1');
    s.on('data', (d) => (got += d.toString()));
    s.on('end', () => resolve(got));
    s.on('error', reject);
  });
}

describe('sandbox directives the daemon does not enforce', () => {
  it('run: the instance fails 226/NAMESPACE with FILE:LINE logged; the other socket serves', async () => {
    const { dir, c, plain } = await units();
    daemon = startCli(['run', '--units', dir, '--control', path.join(dir, 'control.sock')]);
    await daemon.waitFor(/^\{"event":"ready"/, 15000);
    expect(await fetch(c)).toBe('');
    const file = path.join(dir, 'c@.service');
    await daemon.waitFor(/status=226\/NAMESPACE$/, 10000);
    expect(daemon.stderr()).toContain(`${file}:5: ProtectKernelLogs=yes is not enforced by mptcpd-lite`);
    expect(daemon.stderr()).toContain(`${file}:4: ProtectKernelTunables=yes is not enforced by mptcpd-lite`);
    expect(daemon.stderr()).toContain("Failed with result 'exit-code'.");
    expect(await fetch(plain)).toMatch(/^CapBnd:\s+[0-9a-f]+\nNoNewPrivs:\s+0\n$/);
  });

  it('run --allow-unenforced-sandbox: the instance runs, a warning per unit', async () => {
    const { dir, c } = await units();
    daemon = startCli([
      'run',
      '--allow-unenforced-sandbox',
      '--units',
      dir,
      '--control',
      path.join(dir, 'control.sock'),
    ]);
    await daemon.waitFor(/^\{"event":"ready"/, 15000);
    expect(await fetch(c)).toMatch(/^CapBnd:/);
    expect(await fetch(c)).toMatch(/^CapBnd:/);
    const warned = daemon
      .stderr()
      .split('\n')
      .filter((l) => l.includes('ProtectKernelLogs=yes is not enforced by mptcpd-lite; running without it'));
    expect(warned).toHaveLength(1);
  });

  it('verify: an error for the service a socket triggers; a warning and exit 0 with --allow-unenforced-sandbox', async () => {
    const { dir } = await units();
    const socket = path.join(dir, 'c.socket');
    const r = await runCli(['verify', socket]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `${path.join(dir, 'c@.service')}:6: SystemCallFilter=@system-service is not enforced by mptcpd-lite`,
    );
    expect(r.stderr).toContain('(status=228/SECCOMP)');
    const ok = await runCli(['verify', path.join(dir, 'plain.socket'), path.join(dir, 'plain@.service')]);
    expect(ok).toMatchObject({ code: 0, stderr: '' });
    const allowed = await runCli(['verify', '--allow-unenforced-sandbox', socket]);
    expect(allowed.code).toBe(0);
    expect(allowed.stderr).toContain('ProtectKernelLogs=yes is not enforced by mptcpd-lite; running without it');
  });
});
