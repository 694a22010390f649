/**
 * Exec directory entries that the service user replaced by symlinks, as systemd 257
 * (fixtures/v257/exec-dir-symlink, recorded with the oracle by record.sh; driver.sh makes the victims
 * and starts each unit, whose ExecStartPre= plants the link as User=nobody): a link to a root 0600 file is neither chmod'ed nor chown'ed through and the
 * process fails 233/RUNTIME_DIRECTORY with 257's two lines; a link to a root 0700 directory keeps
 * that mode; a state directory that already belongs to User= is not descended into (a root file in
 * it stays root's); the runtime directory is removed at the end without following the link. One
 * deliberate difference: 257 chowns the linked directory to User= (path_chown_recursive() with
 * AT_SYMLINK_FOLLOW); mptcpd-lite follows only a root-owned link, so it stays root's (with a warning).
 */
import { chownSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivationEngine } from '../src/index.js';
import { need, root } from './helpers/capability.js';
import { loadUnits } from './helpers/load.js';
import { testLogger } from './helpers/log.js';
import { expectStateAsShown, recording } from './helpers/recorded-257.js';
import { unitDir } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/exec-dir-symlink/', import.meta.url));
const rec = recording(FIXTURE);
const UNITS = ['fsym', 'dsym', 'keep'];
const NAMES = /\bx(sym|dsym|victim|tgt|keep)\b/g;
const NOBODY = 65534;

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

describe('exec directory entries replaced by symlinks (systemd 257)', () => {
  it('a link to a file fails 233 untouched; a link to a directory keeps its mode; an owned directory is not descended', async (ctx) => {
    need(ctx, root);
    const suffix = `-t${process.pid}`;
    const rename = (s: string): string => s.replace(NAMES, (m) => `${m}${suffix}`);
    const files: Record<string, string> = {};
    for (const u of UNITS) files[`${u}.service`] = rename(readFileSync(join(FIXTURE, `${u}.service`), 'utf8'));
    const made = ['/run/xsym', '/run/xvictim', '/run/xdsym', '/run/xtgt', '/var/lib/xkeep'].map(rename);
    ctx.onTestFinished(() => {
      for (const p of made) rmSync(p, { recursive: true, force: true });
    });
    // As driver.sh (the units' ExecStartPre= plant the links, as nobody).
    writeFileSync(rename('/run/xvictim'), 'secret\n', { mode: 0o600 });
    mkdirSync(rename('/run/xtgt'), { mode: 0o700 });
    writeFileSync(rename('/run/xtgt/f'), '');
    mkdirSync(rename('/var/lib/xkeep'));
    chownSync(rename('/var/lib/xkeep'), NOBODY, NOBODY);
    writeFileSync(rename('/var/lib/xkeep/rootfile'), '');

    const log = testLogger();
    const e = new ActivationEngine({ logger: log });
    engine = e;
    await e.start(await loadUnits(unitDir(files)));
    for (const u of UNITS) await e.startUnit(`${u}.service`).catch(() => undefined);
    for (const u of UNITS) expectStateAsShown(e.unitInfo(`${u}.service`), rec.tagged('show', `${u}.service`)[0]);

    // 257's two lines from the failing process.
    const execErr = rec.lines.flatMap((l) => {
      const m = /^\[exec\] err: (.*)$/.exec(l);
      return m ? [rename(m[1] as string)] : [];
    });
    expect(execErr).toHaveLength(2);
    expect(log.errors.filter((w) => w.startsWith('fsym.service: ')).slice(0, 2)).toEqual(execErr);
    expect(log.warnings.some((w) => w.startsWith('fsym.service: ') && w.includes('status=233/RUNTIME_DIRECTORY'))).toBe(
      true,
    );

    const stat = (p: string): string => {
      try {
        const st = statSync(p);
        const owner = st.uid === 0 ? 'root' : st.uid === NOBODY ? 'nobody' : String(st.uid);
        return `${p} ${(st.mode & 0o7777).toString(8)} ${owner}`;
      } catch {
        return `stat: cannot statx '${p}': No such file or directory`;
      }
    };
    const recordedAfter = rec.lines.filter((l) => l.startsWith('[after] ')).map((l) => l.slice('[after] '.length));
    const paths = recordedAfter.map((l) => (/'([^']+)'/.exec(l)?.[1] ?? l.split(' ')[0]) as string);
    // the deliberate difference: the linked directory (and its file) stay root's
    const want = recordedAfter.map((l) => (/^\/run\/xtgt\b/.test(l) ? l.replace(/ nobody$/, ' root') : l));
    expect(paths.map((p) => stat(rename(p)))).toEqual(want.map(rename));
    // once, at ExecStart='s set-up (the link was planted by ExecStartPre=)
    expect(log.warnings.filter((w) => w.includes('is a symlink owned by'))).toEqual([
      `dsym.service: ${rename('/run/xdsym')}/sub is a symlink owned by UID ${NOBODY}, not root; not changing the ownership of its target.`,
    ]);
  });
});
