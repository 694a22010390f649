/**
 * The engine opens its units' leading IP stream listeners with one native call at start
 * (open-listen.ts preopenPorts()). What listens, what fails and why must be what opening the units
 * one by one, in order, gives: the first unit on an address gets it, a unit whose service is not
 * loaded takes nothing, and an option the batch does not take keeps its place in the order.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ActivationEngine } from '../src/index.js';
import { loadEngineUnits } from '../src/load-units.js';
import type { NativeApi } from '../src/native-binding.js';
import { loadNative } from '../src/native-binding.js';
import { loopback, unitDir } from './helpers/run.js';

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

const socketUnit = (listen: string, extra = ''): string => `[Socket]\nListenStream=${listen}\nAccept=yes\n${extra}`;
const template = '[Service]\nExecStart=/bin/cat\nStandardInput=socket\n';

/** The real native layer, counting the IP listeners opened in the batch and one by one. */
async function countingNative(): Promise<{ native: NativeApi; batched: () => number; single: () => number }> {
  const real = await loadNative();
  let batched = 0;
  let single = 0;
  const native: NativeApi = {
    ...real,
    openSocket: (spec) => {
      // (the engine's own AF_UNIX notify socket is not a unit's listener)
      if (spec.address.family === 'inet' || spec.address.family === 'inet6') single++;
      return real.openSocket(spec);
    },
    openSockets: (specs) => {
      const r = real.openSockets?.(specs) ?? specs.map(() => undefined);
      batched += r.filter((o) => o !== undefined).length;
      return r;
    },
  };
  return { native, batched: () => batched, single: () => single };
}

async function start(files: Record<string, string>) {
  const dir = unitDir(files);
  const loaded = await loadEngineUnits([dir]);
  const n = await countingNative();
  engine = new ActivationEngine({ native: n.native });
  const report = await engine.start(loaded.units);
  return { report, ...n };
}

describe('engine start: listeners opened in one call, in unit order', () => {
  it('opens every plain IP stream listener in one call', async () => {
    const [a, b, c] = [await loopback(), await loopback(), await loopback()];
    const r = await start({
      'a.socket': socketUnit(a),
      'a@.service': template,
      'b.socket': socketUnit(b, 'NoDelay=yes\nKeepAlive=yes\n'),
      'b@.service': template,
      'c.socket': socketUnit(c),
      'c@.service': template,
    });
    expect(r.report).toEqual({ listening: ['a.socket', 'b.socket', 'c.socket'], failed: [] });
    expect([r.batched(), r.single()]).toEqual([3, 0]);
  });

  it('the first unit on an address gets it; the second fails with EADDRINUSE', async () => {
    const addr = await loopback();
    const r = await start({
      'a.socket': socketUnit(addr),
      'a@.service': template,
      'b.socket': socketUnit(addr),
      'b@.service': template,
    });
    expect(r.report.listening).toEqual(['a.socket']);
    expect(r.report.failed.map((f) => f.unit)).toEqual(['b.socket']);
    expect(r.report.failed[0]?.error).toMatch(/EADDRINUSE|Address already in use/);
  });

  it('a unit whose template is not loaded takes no address: the next unit on it listens', async () => {
    const addr = await loopback();
    const r = await start({
      'a.socket': socketUnit(addr),
      'b.socket': socketUnit(addr),
      'b@.service': template,
    });
    expect(r.report.listening).toEqual(['b.socket']);
    expect(r.report.failed.map((f) => [f.unit, f.code])).toEqual([['a.socket', 'TEMPLATE_NOT_FOUND']]);
  });

  it('a unit the batch does not take (ReceiveBuffer=: a FORCE option) keeps its place in the order', async () => {
    const addr = await loopback();
    const r = await start({
      'a.socket': socketUnit(addr, 'ReceiveBuffer=1M\n'),
      'a@.service': template,
      'b.socket': socketUnit(addr),
      'b@.service': template,
    });
    expect(r.report.listening).toEqual(['a.socket']);
    expect(r.report.failed.map((f) => f.unit)).toEqual(['b.socket']);
    expect(r.batched()).toBe(0);
  });
});
