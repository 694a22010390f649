/**
 * Parser fuzz: ≥ 100,000 unit texts — generated ones, and mutations of the real units on this
 * machine (/usr/lib/systemd, /etc/systemd) and of generated ones. The parser must never throw, and
 * every diagnostic with a line must point inside the file (1 … lines + 1).
 */
import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateCorpus, prng } from '@mptcp/testkit/unit-corpus';
import { corpus, resolveParser } from '@mptcp/testkit/unit-api';
import { lineCount, mutate } from '../src/mutate.js';
import { report } from '../src/require.js';

const TOTAL = 100_000;

function realUnits(): Array<{ name: string; text: string }> {
  const out: Array<{ name: string; text: string }> = [];
  const seen = new Set<string>(); // /lib is often a symlink to /usr/lib
  const walk = (dir: string, depth: number): void => {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(dir, e);
      try {
        const st = statSync(p);
        if (st.isDirectory() && depth < 3) walk(p, depth + 1);
        else if (st.isFile() && /\.(socket|service)$/.test(e) && st.size < 1 << 20 && !seen.has(realpathSync(p))) {
          seen.add(realpathSync(p));
          out.push({ name: e, text: readFileSync(p, 'utf8') });
        }
      } catch {
        /* dangling symlink, permission: not a unit we can read */
      }
    }
  };
  for (const d of ['/usr/lib/systemd', '/etc/systemd', '/lib/systemd']) walk(d, 0);
  return out;
}

describe('parser fuzz', () => {
  it(`parses ${TOTAL.toLocaleString('en')} generated and mutated units without throwing, diagnostics inside the file`, async () => {
    const parse = resolveParser();
    const real = realUnits();
    // generated: half from our generator, half from @mptcp/unit's own generateUnitCorpus
    const generated = [...generateCorpus(10_000, 7), ...corpus(10_000, 7).units];
    const r = prng(20261125);
    const seeds = [...real, ...generated.slice(0, 2000)];
    let parsed = 0;
    let diagnostics = 0;
    let withLine = 0;
    const failures: string[] = [];
    const t0 = performance.now();
    const check = (name: string, text: string): void => {
      parsed++;
      let res: ReturnType<typeof parse>;
      try {
        res = parse(name, text);
      } catch (e) {
        if (failures.length < 5)
          failures.push(
            `${name}: threw ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n--- input ---\n${text.slice(0, 400)}`,
          );
        return;
      }
      const max = lineCount(text) + 1;
      for (const d of res.diagnostics) {
        diagnostics++;
        if (d.line === undefined) continue;
        withLine++;
        if (!(Number.isInteger(d.line) && d.line >= 1 && d.line <= max) && failures.length < 5) {
          failures.push(
            `${name}: diagnostic at line ${d.line} outside 1..${max}: ${d.message}\n--- input ---\n${text.slice(0, 400)}`,
          );
        }
      }
    };
    for (const u of generated) check(u.name, u.text);
    for (const u of real) check(u.name, u.text);
    while (parsed < TOTAL) {
      const base = seeds[Math.floor(r() * seeds.length)]!;
      check(base.name, mutate(base.text, r));
    }
    const seconds = (performance.now() - t0) / 1000;
    report(
      'parser-fuzz',
      `${parsed} units (${generated.length} generated, ${real.length} real from /usr/lib/systemd + /etc/systemd, ${parsed - generated.length - real.length} mutated)`,
      failures.length ? `NO: ${failures.length}+ failures` : 'no exception; every diagnostic line inside 1..lines+1',
      { seconds, unitsPerSecond: parsed / seconds, diagnostics, diagnosticsWithLine: withLine },
    );
    expect(failures).toEqual([]);
    expect(parsed).toBeGreaterThanOrEqual(TOTAL);
    expect(withLine).toBeGreaterThan(0);
  }, 900_000); // safety net: ~285 s on 2 idle cores, ~350 s with both cores loaded (stress-ng --cpu 2)
});
