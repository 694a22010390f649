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
