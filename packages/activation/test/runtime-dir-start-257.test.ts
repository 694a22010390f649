/**
 * A RuntimeDirectory= that exists before a start, as systemd 257: what is in it stays for the run's
 * commands (257 creates the directory only when missing), and the directory goes when the run ends
 * (service_enter_dead()) — unless RuntimeDirectoryPreserve=yes, which keeps it for the next run.
 * Compared with fixtures/v257/runtime-dir-start (record.sh: a file put there before each start, what
 * ExecStartPre= and ExecStart= see ([seen]), whether it is there afterwards ([after])).
 */
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { ActivationEngine } from '../src/index.js';
import { need, root } from './helpers/capability.js';
import { fixtureEngine } from './helpers/lifecycle-257.js';
import { recording } from './helpers/recorded-257.js';
import { waitFor } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/runtime-dir-start/', import.meta.url));
const dirOf = (u: string): string => `/run/mptcpd-lite-${u}`;

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
  for (const u of ['rtkeep', 'rtpreserve']) rmSync(dirOf(u), { recursive: true, force: true });
});

/** driver.sh's `[after]` line: `present FILES…` or `absent`. */
const after = (u: string): string =>
  `[after] ${u}.service ${existsSync(dirOf(u)) ? ['present', ...readdirSync(dirOf(u)).sort()].join(' ') : 'absent'}`;

describe('an existing RuntimeDirectory= at the start (systemd 257)', () => {
  it('its files reach the commands; removed at the run end, kept with RuntimeDirectoryPreserve=yes', async (ctx) => {
    need(ctx, root);
    const rec = recording(FIXTURE);
    const f = await fixtureEngine(FIXTURE, ['rtkeep.service', 'rtpreserve.service']);
    engine = f.e;
    const ours: string[] = [];
    const start = async (u: string): Promise<void> => {
      await f.e.startUnit(`${u}.service`);
      await waitFor(() => f.e.unitInfo(`${u}.service`)?.activeState === 'inactive', 30_000, `${u} done`);
      ours.push(after(u));
    };
    for (const u of ['rtkeep', 'rtpreserve']) {
      rmSync(dirOf(u), { recursive: true, force: true });
      mkdirSync(dirOf(u));
      writeFileSync(`${dirOf(u)}/before`, '');
      await start(u);
    }
    writeFileSync(`${dirOf('rtpreserve')}/again`, '');
    await start('rtpreserve');
    const tagged = (l: string): boolean => l.startsWith('[seen] ') || l.startsWith('[after] ');
    const seen = f.out().filter((l) => l.startsWith('[seen] '));
    // driver.sh's order: each run's [seen] lines, then its [after] line.
    const merged = [...seen.slice(0, 2), ours[0], ...seen.slice(2, 4), ours[1], ...seen.slice(4), ours[2]];
    expect(merged).toEqual(rec.lines.filter(tagged));
  }, 60_000);
});
