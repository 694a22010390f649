/**
 * The credentials of a run (the audit's cred-reload and cred-rimraf):
 * - set up once per run, as 257 (exec-credential.c reuse, service.c's EXEC_SETUP_CREDENTIALS_FRESH
 *   for ExecStartPre= and the first ExecStart= only): ExecStartPre= gets them fresh (so that it can
 *   update a source for the main process), the main process, ExecStartPost= and ExecReload= share
 *   one directory, which never vanishes under the running main process;
 * - the service cannot change its credentials directory (root's, 0550, files 0440, its group's): no
 *   new entry, no chmod, no write, so nothing it could plant is ever followed by the root daemon;
 * - a directory source is read recursively (ID_SUB_FILE), without symlinks or FIFOs.
 */
import { existsSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivationEngine } from '../src/index.js';
import { need, root } from './helpers/capability.js';
import { loadUnits } from './helpers/load.js';
import { testLogger } from './helpers/log.js';
import { run, tmp, unitDir, waitFor } from './helpers/run.js';

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

const lines = (p: string): string[] => (existsSync(p) ? readFileSync(p, 'utf8').split('\n').filter(Boolean) : []);

describe('credentials of a run', () => {
  it('written fresh for ExecStartPre= and the main process, then kept for ExecStartPost= and ExecReload=', async (ctx) => {
    need(ctx, root);
    const d = tmp('cred-run-');
    const src = join(d, 'src');
    writeFileSync(src, 'old\n');
    const out = join(d, 'out');
    const name = `credrun-${process.pid}.service`;
    const C = '$CREDENTIALS_DIRECTORY';
    const R = `/run/credentials/${name}`;
    const dir = unitDir({
      [name]: [
        '[Service]',
        `LoadCredential=c:${src}`,
        `ExecStartPre=/bin/sh -c 'echo "pre $(cat ${C}/c)" >> ${out}; echo new > ${src}'`,
        `ExecStart=/bin/sh -c 'cd ${C}; echo $$$$ > ${out}.pid; echo "main $(stat -c %%i .) $(cat c)" >> ${out}; exec sleep 600'`,
        `ExecStartPost=/bin/sh -c 'echo "post $(stat -c %%i ${C}) $(cat ${C}/c)" >> ${out}'`,
        // ExecReload= has no $CREDENTIALS_DIRECTORY in 257 (fixtures/v257/credentials-commands): the path.
        `ExecReload=/bin/sh -c 'echo newer > ${src}; echo "reload $(stat -c %%i ${R}) $(cat ${R}/c)" >> ${out}'`,
        '',
      ].join('\n'),
    });
    const e = new ActivationEngine({ logger: testLogger() });
    engine = e;
    await e.start(await loadUnits(dir));
    await e.startUnit(name);
    await waitFor(() => lines(out).length >= 3, 30_000, 'pre, main and post');
    await e.reloadUnit(name);
    await e.reloadUnit(name);
    const seen = lines(out);
    expect(seen[0]).toBe('pre old');
    const by = (tag: string): string[] =>
      seen.filter((l) => l.startsWith(`${tag} `)).map((l) => l.split(' ').slice(1).join(' '));
    const [mainLine] = by('main');
    // The main process sees what ExecStartPre= wrote (fresh for it); everything later reuses that.
    expect(mainLine).toMatch(/^\d+ new$/);
    expect(by('post')).toEqual([mainLine]);
    expect(by('reload')).toEqual([mainLine, mainLine]);
    // The main process's working directory (its credentials) is still there, not a deleted one.
    const pid = readFileSync(`${out}.pid`, 'utf8').trim();
    expect(readlinkSync(`/proc/${pid}/cwd`)).toBe(`/run/credentials/${name}`);
    await e.stopUnit(name);
    expect(existsSync(`/run/credentials/${name}`)).toBe(false);
  });

  it('the service can neither add, chmod nor write anything in its credentials directory', async (ctx) => {
    need(ctx, root);
    const d = tmp('cred-ro-');
    const out = join(d, 'out');
    const tree = join(d, 'tree');
    const r = await run('sh', [
      '-c',
      `mkdir -p '${tree}/sub' && echo top > '${tree}/top' && echo f > '${tree}/sub/f' && mkfifo '${tree}/fifo' && ln -s '${tree}/top' '${tree}/link'`,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const name = `credro-${process.pid}.service`;
    const C = '$CREDENTIALS_DIRECTORY';
    const tries = [
      `touch ${C}/new`,
      `ln -s / ${C}/link`,
      `chmod 700 ${C}`,
      `chmod 600 ${C}/x`,
      `sh -c "echo more >> ${C}/x"`,
      `rm -f ${C}/x`,
    ];
    const dir = unitDir({
      [name]: [
        '[Service]',
        'Type=oneshot',
        'User=nobody',
        'SetCredential=x:secret',
        `LoadCredential=t:${tree}`,
        `StandardOutput=append:${out}`,
        `ExecStart=/bin/sh -c 'cd ${C}; ls; cat x; echo; ${tries.map((t) => `${t} 2>/dev/null && echo "allowed: ${t.replaceAll('"', '')}"`).join('; ')}; stat -c "%%a %%U" . x; true'`,
        '',
      ].join('\n'),
    });
    const e = new ActivationEngine({ logger: testLogger() });
    engine = e;
    await e.start(await loadUnits(dir));
    await e.startUnit(name);
    expect(lines(out)).toEqual(['t_sub_f', 't_top', 'x', 'secret', '550 root', '440 root']);
  });

  it('a daemon reload that drops the credentials of a running unit: its directory still goes at the end of the run', async (ctx) => {
    need(ctx, root);
    const name = `credgone-${process.pid}.service`;
    const unit = (creds: boolean): Record<string, string> => ({
      [name]: `[Service]\n${creds ? 'SetCredential=x:1\n' : ''}ExecStart=/bin/sleep 600\n`,
    });
    const e = new ActivationEngine({ logger: testLogger() });
    engine = e;
    await e.start(await loadUnits(unitDir(unit(true))));
    await e.startUnit(name);
    expect(existsSync(`/run/credentials/${name}/x`)).toBe(true);
    await e.reload(await loadUnits(unitDir(unit(false))));
    await e.stopUnit(name);
    expect(existsSync(`/run/credentials/${name}`)).toBe(false);
  });
});
