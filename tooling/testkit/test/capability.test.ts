import { afterEach, describe, expect, it, vi } from 'vitest';
import { capability, missing, reasonMissing } from '../src/capability.js';
import { freePort } from '../src/net.js';

/** A fresh copy of the gate module with CI set as given (IN_CI is read when the module loads). */
async function gateWith(ci: string | undefined): Promise<typeof import('../src/capability.js')> {
  if (ci === undefined) vi.stubEnv('CI', '');
  else vi.stubEnv('CI', ci);
  vi.resetModules();
  return import('../src/capability.js');
}

describe('capability gate', () => {
  it('a present capability has no reason; an absent one says what is missing', () => {
    expect(reasonMissing('tool:sh')).toBeUndefined();
    expect(reasonMissing('tool:no-such-tool-xyz')).toMatch(/no-such-tool-xyz.*not found/);
    expect(reasonMissing('deb:no-such-package-xyz')).toMatch(/Debian package no-such-package-xyz is not installed/);
    expect(missing(['tool:sh'])).toBeNull();
    expect(missing(['tool:sh', 'tool:no-such-tool-xyz'])).toMatch(/^tool:no-such-tool-xyz: /);
    expect(capability(() => 'custom reason')).toEqual({ ok: false, reason: 'custom reason' });
    expect(capability(() => undefined)).toEqual({ ok: true, reason: '' });
  });

  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it('without CI a missing capability is skipped with the reason printed; with CI=true it fails', async () => {
    const printed: string[] = [];
    vi.spyOn(console, 'warn').mockImplementation((m: string) => void printed.push(m));
    const local = await gateWith(undefined);
    const skipped: string[] = [];
    local.requireCapabilities(
      { skip: (why) => void skipped.push(why ?? ''), task: { name: 't' } },
      'tool:no-such-tool-xyz',
    );
    expect(skipped).toEqual([expect.stringMatching(/no-such-tool-xyz/)]);
    expect(printed).toEqual([expect.stringMatching(/^SKIP t: tool:no-such-tool-xyz: /)]);
    expect(local.checkCapabilities(['tool:sh'])).toBeUndefined();

    const ci = await gateWith('true');
    expect(() =>
      ci.requireCapabilities({ skip: () => undefined, task: { name: 't' } }, 'tool:no-such-tool-xyz'),
    ).toThrow(/t: required capability missing under CI=true: tool:no-such-tool-xyz/);
    expect(() => ci.checkCapabilities([() => 'no peer'])).toThrow(/no peer/);
    expect(() => ci.checkCapabilities(['tool:sh'])).not.toThrow();
  });

  it('freePort gives a bindable port', async () => {
    const p = await freePort();
    expect(p).toBeGreaterThan(0);
    expect(p).toBeLessThan(65536);
  });
});
