/**
 * PrivateTmp=yes as systemd 257 (fixtures/v257/private-tmp, recorded with the oracle by record.sh):
 * every process of a run shares the run's own /tmp and /var/tmp (mode 1777, what ExecStartPre= wrote
 * is there, nothing of the host's), bind-mounted from `systemd-private-<boot id>-<unit>-XXXXXX/tmp`
 * in a mount namespace of its own; a `+` command sees the host's /tmp with that directory in it; the
 * directories are gone once the run ended. Another unit of the same engine sees the host's /tmp.
 */
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivationEngine } from '../src/index.js';
import { need, root } from './helpers/capability.js';
import { loadUnits } from './helpers/load.js';
import { testLogger } from './helpers/log.js';
import { tmp, unitDir } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/private-tmp/', import.meta.url));

/** `[main]`/`[plus]` → lines. */
function sections(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let cur: string[] = [];
  for (const l of text.split('\n')) {
    const h = /^\[(\w+)\]$/.exec(l);
    if (h) out.set(h[1] as string, (cur = []));
    else if (l && !l.startsWith('#')) cur.push(l);
  }
  return out;
}

/** The comparable facts of one probe: modes, entries (private dir names normalized), the last mount on /tmp and /var/tmp. */
function facts(lines: string[]): Record<string, string> {
  const norm = (s: string): string =>
    s.replace(/\S*systemd-private-[0-9a-f]{32}-(\S+?)-\w{6}(\/tmp)?/g, 'systemd-private-BOOT-$1-X$2').trim();
  const out: Record<string, string> = {};
  for (const l of lines) {
    const [k, ...rest] = l.split(' ');
    if (k === 'mount') out[`mount ${rest[1]}`] = norm(rest[0] as string);
    else if (k === 'tmp-entries' || k === 'vartmp-entries')
      out[k] = rest
        // Only this unit's: other tests' PrivateTmp= units may have theirs in the host's /tmp meanwhile.
        .filter((e) => e === 'from-pre' || e === 'from-pre-var' || /systemd-private-[0-9a-f]{32}-pt\.service-/.test(e))
        .map(norm)
        .join(' ');
    else if (k === 'tmp-mode') out[k] = l;
  }
  return out;
}

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

describe('PrivateTmp=yes (systemd 257)', () => {
  it('the run shares its own /tmp and /var/tmp; `+` sees the host; removed at the end; another unit unaffected', async (ctx) => {
    need(ctx, root);
    const expected = sections(readFileSync(join(FIXTURE, 'expected.txt'), 'utf8'));
    // Outside /tmp: the service's /tmp is another directory.
    const outDir = mkdtempSync('/dev/shm/private-tmp-');
    ctx.onTestFinished(() => rmSync(outDir, { recursive: true, force: true }));
    const probe = join(outDir, 'probe.sh');
    copyFileSync(join(FIXTURE, 'probe.sh'), probe);
    chmodSync(probe, 0o755);
    const marker = tmp('private-tmp-host-');
    const text = readFileSync(join(FIXTURE, 'pt.service'), 'utf8')
      // A copy outside /tmp: a checkout below /tmp (a CI clone) is hidden by the service's own /tmp.
      .replaceAll('/probe/probe.sh', probe)
      .replaceAll('/oracle/out', outDir);
    const other = join(outDir, 'other.txt');
    engine = new ActivationEngine({ logger: testLogger() });
    await engine.start(
      await loadUnits(
        unitDir({
          'pt.service': text,
          'other.service': `[Service]\nType=oneshot\nExecStart=/bin/sh -c 'ls -A /tmp > ${other}'\n`,
        }),
      ),
    );
    const exited = (name: string): Promise<void> =>
      new Promise((resolve) => engine?.on('service-exit', (e) => e.unit === name && resolve()));
    const done = exited('pt.service');
    await engine.startUnit('pt.service');
    await done;
    const got = sections(readFileSync(join(outDir, 'pt.txt'), 'utf8'));
    const main = facts(got.get('main') ?? []);
    expect(main).toEqual(facts(expected.get('main') ?? []));
    expect(main).toMatchObject({ 'tmp-entries': 'from-pre', 'vartmp-entries': 'from-pre-var' });
    // `+`: the host's /tmp, the run's directory in it, no private mount on it.
    const plus = facts(got.get('plus') ?? []);
    expect(plus['tmp-entries']).toBe('systemd-private-BOOT-pt.service-X');
    expect(plus['mount /tmp'] ?? '').not.toMatch(/systemd-private/);
    expect(plus['vartmp-entries']).toBe('systemd-private-BOOT-pt.service-X');
    expect(facts(expected.get('plus') ?? [])['tmp-entries']).toBe(plus['tmp-entries']);
    // The run is over: its directories are gone.
    const left = [...readdirSync('/tmp'), ...readdirSync('/var/tmp')].filter((e) =>
      /systemd-private-\w+-pt\.service-/.test(e),
    );
    expect(left).toEqual([]);
    // Another unit sees the host's /tmp (this process' view of it).
    const done2 = exited('other.service');
    await engine.startUnit('other.service');
    await done2;
    expect(existsSync(other)).toBe(true);
    expect(readFileSync(other, 'utf8').split('\n')).toContain(marker.split('/')[2]);
  });
});
