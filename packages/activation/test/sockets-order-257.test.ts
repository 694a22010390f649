/**
 * The order of a service's socket fds (LISTEN_FDNAMES) with several sockets (fixtures/v257/sockets-order,
 * recorded by record.sh over four boots). systemd 257's order follows a per-boot random hash of Unit
 * pointers: Sockets=sa1.socket sb1.socket gave either order depending on the boot. Ours is the
 * Sockets= order as written (drop-ins appended), one of the orders 257 gives, the same every time.
 * We gave load (name) order: `Sockets=skb.socket ska.socket` passed ska first.
 */
import { mkdirSync, readFileSync, readdirSync, writeFileSync, cpSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivationEngine, loadEngineUnits } from '../src/index.js';
import { testLogger } from './helpers/log.js';
import { recording } from './helpers/recorded-257.js';
import { loopback, tmp } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/sockets-order/', import.meta.url));
const rec = recording(FIXTURE);

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

/** service → the LISTEN_FDNAMES 257 gave it, one per boot. */
function recorded(): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const l of rec.lines) {
    const m = /^\[boot\d\] (\S+\.service): (.*)$/.exec(l);
    if (!m) continue;
    const set = out.get(m[1] as string) ?? new Set<string>();
    set.add(m[2] as string);
    out.set(m[1] as string, set);
  }
  return out;
}

describe('the order of a service s socket fds (systemd 257, fixtures/v257/sockets-order)', () => {
  it('the recording: 257 s order changes from boot to boot', () => {
    const r = recorded();
    expect(r.get('s1.service')?.size).toBeGreaterThan(0);
    // At least one two-socket service got both orders across the boots.
    expect([...r.values()].some((s) => s.size > 1)).toBe(true);
  });

  it('ours: the Sockets= order (drop-ins appended), the sockets 257 passes, for every recorded service', async () => {
    const work = tmp('sockets-order-');
    const dir = join(work, 'units');
    const outFile = join(work, 'fdnames.txt');
    mkdirSync(dir);
    const src = join(FIXTURE, 'units');
    for (const f of readdirSync(src)) {
      if (f.startsWith('driver')) continue;
      if (f.endsWith('.d')) {
        cpSync(join(src, f), join(dir, f), { recursive: true });
        continue;
      }
      let text = readFileSync(join(src, f), 'utf8').replace('/oracle/out/fdnames.txt', outFile);
      if (f.endsWith('.socket')) text = text.replace(/^ListenStream=.*$/m, `ListenStream=${await loopback()}`);
      writeFileSync(join(dir, f), text);
    }
    engine = new ActivationEngine({ logger: testLogger() });
    expect((await engine.start((await loadEngineUnits([dir])).units)).failed).toEqual([]);
    const r = recorded();
    const names = [...r.keys()].filter((n) => !n.startsWith('im'));
    for (const n of names) await engine.startUnit(n);
    const ours = new Map(
      readFileSync(outFile, 'utf8')
        .trim()
        .split('\n')
        .map((l) => l.split(': ') as [string, string]),
    );
    for (const n of names) {
      const written = /^Sockets=(.*)$/gm;
      const text = readFileSync(join(dir, n), 'utf8') + (n === 'd.service' ? 'Sockets=da.socket\n' : '');
      const order = [...text.matchAll(written)].flatMap((m) => (m[1] as string).split(' ')).join(':');
      expect({ n, fdnames: ours.get(n) }).toEqual({ n, fdnames: order });
      // The same sockets as 257 passed (its order varies by boot; both orders of a pair were seen).
      for (const theirs of r.get(n) ?? []) expect(theirs.split(':').sort()).toEqual(order.split(':').sort());
    }
  });
});
