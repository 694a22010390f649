import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { missing, probes } from './helpers/capability.js';

const noMptcp = missing(probes.mptcp);

describe.skipIf(noMptcp)('README example', () => {
  it('examples/echo.mjs runs: both ends MPTCP, one subflow each, data echoed', () => {
    const out = execFileSync(process.execPath, [fileURLToPath(new URL('../examples/echo.mjs', import.meta.url))], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    expect(out).toMatch(/server: isMptcp=true/);
    expect(out).toMatch(/client: isMptcp=true/);
    expect(out).toContain('echo: hello over MPTCP');
  });
});

describe.skipIf(noMptcp)('README examples: HTTP', () => {
  const example = (f: string): string => fileURLToPath(new URL(`../examples/${f}`, import.meta.url));
  const register = fileURLToPath(new URL('../dist/register.js', import.meta.url));

  it('examples/register-app.mjs under --import register: the server is MPTCP; fetch dials MPTCP with NODE_MPTCP=1', () => {
    const run = (nodeMptcp: string): string =>
      execFileSync(process.execPath, ['--import', register, example('register-app.mjs')], {
        encoding: 'utf8',
        timeout: 20_000,
        env: { ...process.env, NODE_MPTCP: nodeMptcp },
      });
    expect(run('1')).toContain('server: MPTCP true');
    expect(run('2')).toContain('server: MPTCP false'); // listener MPTCP, fetch plain TCP: the kernel falls back
  });

  it('examples/http-explicit.mjs: MptcpHttpAgent and the undici MptcpAgent give MPTCP connections', () => {
    const out = execFileSync(process.execPath, [example('http-explicit.mjs')], { encoding: 'utf8', timeout: 20_000 });
    expect(out).toContain('http.get + MptcpHttpAgent: MPTCP true');
    expect(out).toContain('fetch + MptcpAgent: MPTCP true');
  });
});

describe('README example: an AF_UNIX server without node:net', () => {
  it('examples/unix-control.mjs: the node is 0600, the client gets its reply and end-of-file', () => {
    const out = execFileSync(
      process.execPath,
      [fileURLToPath(new URL('../examples/unix-control.mjs', import.meta.url))],
      {
        encoding: 'utf8',
        timeout: 20_000,
      },
    );
    expect(out).toMatch(/^listening on \/.*control\.sock, mode 600$/m);
    expect(out).toContain('client got: you said: status');
  });
});
