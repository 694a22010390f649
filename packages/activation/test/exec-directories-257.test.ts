/**
 * RuntimeDirectory=, StateDirectory=, CacheDirectory=, LogsDirectory=, ConfigurationDirectory= as
 * systemd 257 (fixtures/v257/exec-directories, recorded with the oracle by record.sh; driver.sh
 * starts each unit): the directories exist for every process with the kind's mode (RuntimeDirectoryMode=
 * 0711 for both entries, nested parents 0755 root), owned by User=; $RUNTIME_DIRECTORY… list them; an
 * existing state directory is chmod'ed and chown'ed recursively, an existing configuration directory of
 * another mode is left alone with 257's warning; the runtime directories are gone after the stop (not
 * the parent of a nested one) unless RuntimeDirectoryPreserve=yes; a state directory under a regular
 * file fails 238/STATE_DIRECTORY with 257's lines. The units run under the engine with the names given
 * a random suffix (the real /run, /var/lib, … as 257: root only).
 */
import { chmodSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivationEngine } from '../src/index.js';
import { need, root } from './helpers/capability.js';
import { loadUnits } from './helpers/load.js';
import { testLogger } from './helpers/log.js';
import { expectStateAsShown, recording } from './helpers/recorded-257.js';
import { tmp, unitDir } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/exec-directories/', import.meta.url));
const rec = recording(FIXTURE);
const UNITS = ['dirs', 'own', 'preserve', 'bad'];
const NAMES = /\bx(rt2|rt|st|ca|log|cfgown|cfg|own|keep|bad)\b/g;

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

describe('exec directories (systemd 257)', () => {
  it('made with their modes and owners, in the environment, removed at the stop unless preserved; a failing one is 238', async (ctx) => {
    need(ctx, root);
    const suffix = `-t${process.pid}`;
    const rename = (s: string): string => s.replace(NAMES, (m) => `${m}${suffix}`);
    const out = join(tmp('exec-dirs-'), 'show.txt');
    const files: Record<string, string> = {};
    for (const u of UNITS)
      files[`${u}.service`] = rename(readFileSync(join(FIXTURE, `${u}.service`), 'utf8')).replaceAll(
        '/oracle/out/show.txt',
        out,
      );
    const made = ['/run/xrt', '/run/xrt2', '/var/lib/xst', '/var/cache/xca', '/var/log/xlog', '/etc/xcfg']
      .concat(['/var/lib/xown', '/etc/xcfgown', '/run/xkeep', '/var/lib/xbad'])
      .map(rename);
    ctx.onTestFinished(() => {
      for (const p of made) rmSync(p, { recursive: true, force: true });
    });
    // As driver.sh.
    mkdirSync(rename('/var/lib/xown'), { mode: 0o700 });
    chmodSync(rename('/var/lib/xown'), 0o700);
    writeFileSync(rename('/var/lib/xown/file'), 'x\n', { mode: 0o600 });
    mkdirSync(rename('/etc/xcfgown'), { mode: 0o700 });
    chmodSync(rename('/etc/xcfgown'), 0o700);
    writeFileSync(rename('/var/lib/xbad'), 'x\n');
    const log = testLogger();
    const e = new ActivationEngine({ logger: log });
    engine = e;
    await e.start(await loadUnits(unitDir(files)));
    for (const u of UNITS) await e.startUnit(`${u}.service`).catch(() => undefined);
    for (const u of UNITS) expectStateAsShown(e.unitInfo(`${u}.service`), rec.tagged('show', `${u}.service`)[0]);
    // What the processes saw: modes and owners before ExecStart=, the environment, the runtime
    // directories in ExecStopPost=.
    const seen = readFileSync(out, 'utf8').split('\n').filter(Boolean);
    const want = rec.lines.filter((l) => /^\[(pre|env|post)\] /.test(l)).map(rename);
    expect(seen).toEqual(want);
    // After the stops.
    const stat = (p: string): string => {
      try {
        const st = statSync(p);
        const owner = st.uid === 0 ? 'root' : st.uid === 1 ? 'daemon' : String(st.uid);
        return `${p} ${(st.mode & 0o7777).toString(8)} ${owner}`;
      } catch {
        return `stat: cannot statx '${p}': No such file or directory`;
      }
    };
    const recordedAfter = rec.lines.filter((l) => l.startsWith('[after] ')).map((l) => l.slice('[after] '.length));
    const paths = recordedAfter.map((l) => (/'([^']+)'/.exec(l)?.[1] ?? l.split(' ')[0]) as string);
    expect(paths.map((p) => stat(rename(p)))).toEqual(recordedAfter.map(rename));
    // 257's lines: the configuration directory's warning, the failing state directory's two errors.
    const exec = (level: string): string[] =>
      rec.lines.flatMap((l) => {
        const m = new RegExp(`^\\[exec\\] ${level}: (.*)$`).exec(l);
        return m ? [rename(m[1] as string)] : [];
      });
    expect(log.warnings.filter((w) => w.includes('already exists'))).toEqual(exec('warning'));
    expect(log.errors.filter((w) => w.startsWith(`bad.service: `)).slice(0, 2)).toEqual(exec('err'));
    expect(log.warnings.some((w) => w.startsWith('bad.service: ') && w.includes('status=238/STATE_DIRECTORY'))).toBe(
      true,
    );
  });
});
