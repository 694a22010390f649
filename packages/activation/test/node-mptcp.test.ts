/**
 * NODE_MPTCP=0 governs the engine too: a SocketProtocol=mptcp unit listens with plain TCP (one
 * warning naming NODE_MPTCP), with or without X-MPTCPFallback; unset, the same unit listens MPTCP.
 * The engine runs in a child process so that the variable is its own.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mptcp, need } from './helpers/capability.js';
import { HELPERS, loopback, unitDir } from './helpers/run.js';

interface Out {
  report: { listening: string[]; failed: Array<{ unit: string; error: string; code?: string }> };
  status: { sockets: Array<{ name: string; listen: Array<{ transport: string; protocol: number }> }> };
  warnings: string[];
}

function engine(dir: string, nodeMptcp: string | undefined): Promise<Out> {
  const env = { ...process.env };
  if (nodeMptcp === undefined) delete env['NODE_MPTCP'];
  else env['NODE_MPTCP'] = nodeMptcp;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [join(HELPERS, 'netns-engine.mjs'), dir],
      { env, encoding: 'utf8', timeout: 60_000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${err.message}\n${stderr}`));
        else resolve(JSON.parse(stdout) as Out);
      },
    );
  });
}

describe('the engine honours NODE_MPTCP', () => {
  const cases: Array<[string | undefined, string, { transport: string; protocol: number }]> = [
    [undefined, '', { transport: 'mptcp', protocol: 262 }],
    ['0', '', { transport: 'fallback', protocol: 6 }],
    ['0', 'X-MPTCPFallback=yes\n', { transport: 'fallback', protocol: 6 }],
    ['3', '', { transport: 'mptcp', protocol: 262 }], // 1–3 change defaults only; the unit asked for MPTCP
  ];
  for (const [value, extra, listen] of cases)
    it(`NODE_MPTCP=${value ?? 'unset'}, SocketProtocol=mptcp ${extra.trim()} → ${listen.transport}`, async (ctx) => {
      need(ctx, mptcp);
      const dir = unitDir({
        'm.socket': `[Socket]\nListenStream=${await loopback()}\nSocketProtocol=mptcp\n${extra}`,
        'm.service': '[Service]\nExecStart=/bin/true\n',
      });
      const out = await engine(dir, value);
      expect(out.report.listening).toEqual(['m.socket']);
      expect(out.status.sockets[0]?.listen[0]).toMatchObject(listen);
      expect(out.warnings.filter((w) => w.includes('NODE_MPTCP=0'))).toHaveLength(value === '0' ? 1 : 0);
    });
});
