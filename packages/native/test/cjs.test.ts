/** CommonJS consumers: require() works (a real CJS build), and the types compile under node16, nodenext and bundler. */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { missing, probes } from './helpers/capability.js';
import { run } from './helpers/proc.js';
import { fileURLToPath } from 'node:url';

const fixture = (f: string): string => fileURLToPath(new URL(`./fixtures/types/${f}`, import.meta.url));
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const noMptcp = missing(probes.mptcp);

describe('CommonJS', () => {
  it.skipIf(noMptcp)(
    "require('@mptcp/native') loads the CJS build (also with require(esm) off) and makes an MPTCP connection",
    async () => {
      const flags = process.features.require_module ? ['--no-experimental-require-module'] : [];
      const out = JSON.parse((await run(process.execPath, [...flags, fixture('require.cjs')])).stdout) as {
        protocol: number;
        mptcp: boolean;
        data: string;
        file: string;
      };
      expect(out).toMatchObject({ protocol: 262, mptcp: true, data: 'ok' });
      expect(out.file).toMatch(/dist\/cjs\/index\.js$/);
    },
  );

  // tsc is slow on a busy machine: the timeout is a safety net.
  it.each(['node16', 'nodenext', 'bundler'])(
    'types compile for CJS and ESM consumers under moduleResolution %s',
    { timeout: 300_000 },
    async (mode) => {
      const r = await run(process.execPath, [tsc, '-p', fixture(`tsconfig.${mode}.json`)], {}, 280_000).catch(
        (e: Error) => ({ stdout: e.message, stderr: '' }),
      );
      expect(r.stdout).toBe('');
    },
  );
});
