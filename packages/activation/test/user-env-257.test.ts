/**
 * USER, LOGNAME, HOME and SHELL as systemd 257 sets them (fixtures/v257/user-env, recorded with the
 * oracle by record.sh), for a `+`, `!` and `!!` ExecStartPre= and the plain ExecStart= of services
 * without User=, with User=root, nobody, daemon and a regular user (mptcpenv257, added here with
 * useradd and removed after), SetLoginEnvironment= unset, yes and no; and for a socket unit's
 * ExecStartPre= (plain and `+`). The probe also prints who the command ran as.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ActivationEngine } from '../src/index.js';
import { need, root } from './helpers/capability.js';
import { loadUnits } from './helpers/load.js';
import { testLogger } from './helpers/log.js';
import { tmp } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/user-env/', import.meta.url));
const expected = readFileSync(join(FIXTURE, 'expected.txt'), 'utf8');
const REGULAR = 'mptcpenv257';

/** `## <unit>` → the probe's lines for it. */
function recorded(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current: string[] = [];
  for (const line of expected.split('\n').filter(Boolean)) {
    if (line.startsWith('# ')) continue;
    const head = /^## (\S+)$/.exec(line);
    if (head) out.set(head[1] as string, (current = []));
    else current.push(line);
  }
  return out;
}
const cases = [...recorded().keys()];

const isRoot = process.getuid?.() === 0;
let added = false;
beforeAll(() => {
  if (!isRoot) return;
  if (!existsSync(`/home/${REGULAR}`) || !readFileSync('/etc/passwd', 'utf8').includes(`\n${REGULAR}:`)) {
    execFileSync('useradd', ['-m', '-d', `/home/${REGULAR}`, '-s', '/bin/bash', REGULAR], { stdio: 'ignore' });
    added = true;
  }
});
afterAll(() => {
  if (added) execFileSync('userdel', ['-r', REGULAR], { stdio: 'ignore' });
});

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

describe('user variables, as systemd 257', () => {
  it('the fixture has every case', () => {
    expect(cases).toEqual([
      'nouser.service',
      'nouser-login.service',
      'root.service',
      'root-nologin.service',
      'nobody.service',
      'nobody-login.service',
      'daemon.service',
      'regular.service',
      'regular-nologin.service',
      'regular-login.service',
      'ctl.socket',
    ]);
  });

  it.for(cases)('%s', async (unit, ctx) => {
    // User= and `+`/`!` need a daemon that can switch users; the regular user is added by useradd.
    need(ctx, root);
    const dir = tmp('user-env-');
    // The User= commands run the probe from here and write here: the checkout may be closed to them.
    chmodSync(dir, 0o755);
    const probe = join(dir, 'probe.sh');
    copyFileSync(join(FIXTURE, 'probe.sh'), probe);
    chmodSync(probe, 0o755);
    const out = join(dir, 'out.txt');
    writeFileSync(out, '');
    chmodSync(out, 0o666);
    const units = join(dir, 'units');
    mkdirSync(units, { mode: 0o755 });
    const base = unit.replace(/\.(service|socket)$/, '');
    for (const f of readdirSync(FIXTURE).filter((f) => f === `${base}.service` || f === `${base}.socket`)) {
      const text = readFileSync(join(FIXTURE, f), 'utf8').replace(/\/probe\/probe\.sh (\S+)/g, `${probe} $1 ${out}`);
      writeFileSync(join(units, f), text);
    }
    engine = new ActivationEngine({ logger: testLogger() });
    const report = await engine.start(await loadUnits(units));
    expect(report.failed).toEqual([]);
    if (unit.endsWith('.service')) {
      const e = engine;
      const exited = new Promise<void>((resolve) =>
        e.on('service-exit', (ev) => {
          if (ev.unit === unit) resolve();
        }),
      );
      await e.startUnit(unit);
      await exited;
    }
    // A socket's ExecStartPre= ran during the engine's start.
    await engine.stop();
    engine = undefined;
    expect(readFileSync(out, 'utf8').split('\n').filter(Boolean)).toEqual(recorded().get(unit));
  });
});
