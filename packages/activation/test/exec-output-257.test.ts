/**
 * StandardOutput=/StandardError= file:, append:, truncate:, null and StandardInput=file: as systemd
 * 257 (fixtures/v257/exec-output, recorded with the oracle by record.sh; driver.sh prepares the files
 * and starts each unit): file: writes over the old content from offset 0 without truncating, append:
 * appends, truncate: truncates, the same path for both streams is one fd (both lines kept), a new file
 * gets 0666 & ~UMask=, StandardError=inherit writes to stdout's file, StandardError=null drops stderr
 * (stdout still logged), StandardOutput=null with StandardError=journal logs stderr alone; a file that
 * cannot be opened fails each process at 257's step (208/STDIN, 209/STDOUT, 222/STDERR) with 257's
 * two lines. The units run under the engine with /run/xo moved to a temporary directory.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivationEngine } from '../src/index.js';
import { loadUnits } from './helpers/load.js';
import { type RecordingLogger, testLogger } from './helpers/log.js';
import { expectStateAsShown, recording } from './helpers/recorded-257.js';
import { unitDir } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/exec-output/', import.meta.url));
const rec = recording(FIXTURE);
const UNITS = ['file', 'trunc', 'new', 'inherit', 'null', 'outnull', 'input', 'missing', 'errmissing', 'inmissing'];

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

async function run(): Promise<{ dir: string; log: RecordingLogger; output: string[]; e: ActivationEngine }> {
  const dir = mkdtempSync('/tmp/exec-output-');
  const files: Record<string, string> = {};
  for (const u of UNITS)
    files[`${u}.service`] = readFileSync(join(FIXTURE, `${u}.service`), 'utf8')
      .replaceAll('/run/xo-missing/', `${dir}-missing/`)
      .replaceAll('/run/xo/', `${dir}/`);
  // As driver.sh.
  writeFileSync(join(dir, 'f.log'), 'OLDCONTENT-LONGER-THAN-NEW\n');
  writeFileSync(join(dir, 'a.log'), 'old\n');
  writeFileSync(join(dir, 't.log'), 'OLDCONTENT-LONGER-THAN-NEW\n');
  writeFileSync(join(dir, 'in.txt'), 'in-line\n');
  const log = testLogger();
  const output: string[] = [];
  const e = new ActivationEngine({
    logger: log,
    serviceOutput: 'log',
    onServiceOutput: (o) => output.push(`${o.unit}: ${o.text}`),
  });
  engine = e;
  await e.start(await loadUnits(unitDir(files)));
  for (const u of UNITS) await e.startUnit(`${u}.service`).catch(() => undefined);
  return { dir, log, output, e };
}

describe('StandardOutput=/StandardError=/StandardInput= files and null (systemd 257)', () => {
  it('writes, appends, truncates, shares one fd, creates with UMask=, drops with null; fails at the STDIN/STDOUT/STDERR steps', async (ctx) => {
    const { dir, log, output, e } = await run();
    ctx.onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    for (const u of UNITS) expectStateAsShown(e.unitInfo(`${u}.service`), rec.tagged('show', `${u}.service`)[0]);
    // The files: content, mode (and owner when we are root, as 257's manager).
    for (const f of ['f', 'a', 't', 'n', 'i', 'in']) {
      const path = join(dir, `${f}.log`);
      const [mode, owner] = (rec.tagged('stat', `${f}.log`)[0] ?? '').split(' ');
      const st = statSync(path);
      expect((st.mode & 0o7777).toString(8), path).toBe(mode);
      if (userInfo().uid === 0) expect(owner).toBe('root');
      expect(readFileSync(path, 'utf8').split('\n').filter(Boolean), path).toEqual(rec.tagged('file', `${f}.log`));
    }
    // What reached the log (257's journal) of the null units, and nothing of the file units.
    for (const u of ['null', 'outnull', 'file', 'trunc', 'new', 'inherit', 'input'])
      expect(
        output.filter((l) => l.startsWith(`${u}.service: `)),
        u,
      ).toEqual(rec.tagged('journal', `${u}.service`).map((t) => `${u}.service: ${t}`));
    // 257's exec child lines for the files it cannot open, and the exit statuses.
    const recorded = (u: string): string[] =>
      rec.lines.flatMap((l) => {
        const m = /^\[exec\] err: (.*)$/.exec(l);
        return m && (m[1] as string).startsWith(`${u}.service: `) ? [m[1] as string] : [];
      });
    for (const u of ['missing', 'errmissing', 'inmissing']) {
      const mine = log.errors.filter((l) => l.startsWith(`${u}.service: `));
      expect(mine.slice(0, 2), u).toEqual(recorded(u));
    }
    const status = (u: string): string | undefined =>
      rec.lines.find((l) => l.includes(`${u}.service: `) && /exited, code=exited, status=\d+\//.test(l));
    for (const u of ['missing', 'errmissing', 'inmissing']) {
      const s = /status=(\d+\/\w+)/.exec(status(u) ?? '')?.[1];
      expect(s, u).toBeDefined();
      expect(
        [...log.warnings, ...log.errors].some((l) => l.startsWith(`${u}.service: `) && l.includes(`status=${s}`)),
        `${u} ${s}`,
      ).toBe(true);
    }
    mkdirSync(`${dir}-missing`, { recursive: true }); // nothing was made there
    rmSync(`${dir}-missing`, { recursive: true, force: true });
  });

  it('a terminal or a named fd is refused at its step, not replaced by the log (fail closed)', async () => {
    const log = testLogger();
    const e = new ActivationEngine({ logger: log });
    engine = e;
    const unit = (k: string, v: string): string => `[Service]\nType=oneshot\nExecStart=/bin/true\n${k}=${v}\n`;
    await e.start(
      await loadUnits(
        unitDir({
          'tty.service': unit('StandardOutput', 'tty'),
          'fdname.service': unit('StandardError', 'fd:foo'),
          'ttyin.service': unit('StandardInput', 'tty'),
        }),
      ),
    );
    for (const [u, status, what] of [
      ['tty', '209/STDOUT', 'standard output: StandardOutput=tty'],
      ['fdname', '222/STDERR', 'standard error output: StandardError=fd:foo'],
      ['ttyin', '208/STDIN', 'standard input: StandardInput=tty'],
    ] as const) {
      await e.startUnit(`${u}.service`).catch(() => undefined);
      expect(e.unitInfo(`${u}.service`), u).toMatchObject({ activeState: 'failed', result: 'exit-code' });
      expect(log.errors, u).toContain(`${u}.service: Failed to set up ${what} is not supported by mptcpd-lite`);
      expect(
        log.warnings.some((l) => l.startsWith(`${u}.service: `) && l.includes(`status=${status}`)),
        u,
      ).toBe(true);
    }
  });
});
