import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// Copies of the package without build/ (so node-gyp-build must use prebuilds/) and without any
// binary, inside packages/native so that node_modules still resolve.
const root = fileURLToPath(new URL('..', import.meta.url));
const scratch = mkdtempSync(join(root, '.loader-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function copy(name: string, withPrebuilds: boolean): string {
  const dir = join(scratch, name);
  cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true });
  cpSync(join(root, 'package.json'), join(dir, 'package.json'));
  if (withPrebuilds) cpSync(join(root, 'prebuilds'), join(dir, 'prebuilds'), { recursive: true });
  return dir;
}

function run(dir: string, code: string): string {
  const script = `const m = await import(${JSON.stringify(new URL(`file://${join(dir, 'dist', 'index.js')}`).href)}); ${code}`;
  return execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
}

describe('loader', () => {
  it('loads the shipped prebuild when there is no local build', () => {
    const dir = copy('prebuilt', true);
    expect(run(dir, 'console.log(m.bindingAvailable(), m.sysconst("AF_INET6"))').trim()).toBe('true 10');
  });

  it('without any binary: a clear error naming what is missing, and plain TCP for prefer', () => {
    const dir = copy('bare', false);
    const out = run(
      dir,
      `console.log(JSON.stringify(m.mptcpSupport()));
       try { m.openSocket({ kind: 'stream', address: { family: 'inet', address: '127.0.0.1', port: 0 } }); }
       catch (e) { console.log(e.code); console.log(e.message); }
       const s = m.listen({ host: '127.0.0.1', port: 0, mptcp: 'prefer' }, (c) => c.end());
       s.on('listening', () => { console.log('listening'); s.close(); });`,
    );
    const [support, code, message, listening] = out.trim().split('\n');
    expect(JSON.parse(support ?? '')).toEqual({ available: false, reason: 'addon-unavailable' });
    expect(code).toBe('MPTCP_ADDON_UNAVAILABLE');
    expect(message).toContain('prebuilds/linux-x64');
    expect(message).toContain('build/Release/mptcp_native.node');
    expect(message).toContain('npm rebuild @mptcp/native');
    expect(listening).toBe('listening');
  });
});
