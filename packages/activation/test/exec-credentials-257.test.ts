/**
 * Credentials and process attributes as systemd 257 gives them (fixtures/v257/exec-credentials,
 * recorded with the oracle by record.sh): supplementary groups (User='s groups as initgroups(),
 * SupplementaryGroups= by name and number, resets, Group=root, `+` and `!`, no User=), ids without a
 * passwd/group entry (217/USER, 216/GROUP), and CPUScheduling*=, CPUAffinity=, IOScheduling*=,
 * TimerSlackNSec=, CoredumpFilter=, Personality= (with Nice=, resets, values the kernel refuses:
 * 214/SETSCHEDULER, 215/CPUAFFINITY, 211/IOPRIO). The same units run under the engine (native
 * launcher) with the users and groups of users.txt added here by groupadd/useradd (removed after);
 * probe.sh prints what each process got, and the engine's log must carry 257's error and exit lines.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ActivationEngine } from '../src/index.js';
import { clearUserCache } from '../src/user.js';
import { need, root } from './helpers/capability.js';
import { loadUnits } from './helpers/load.js';
import { type RecordingLogger, testLogger } from './helpers/log.js';
import { tmp } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/exec-credentials/', import.meta.url));
const expected = readFileSync(join(FIXTURE, 'expected.txt'), 'utf8');

/** `## <unit>` → the recorded lines for it. */
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

/**
 * Where we differ from 257 on purpose: DynamicUser=yes implies PrivateTmp=disconnected and
 * RestrictSUIDSGID=yes, which mptcpd-lite does not enforce, so its process is refused (sandbox.ts,
 * 226/NAMESPACE, the first such step) where 257 runs it (recorded: uid 4399 from User=4399; with
 * allowUnenforcedSandbox we run it so too: dynamic-user-257.test.ts).
 */
const DELIBERATE: Readonly<Record<string, string[]>> = {
  'dynamic-numeric.service': ['status: Main process exited, code=exited, status=226/NAMESPACE'],
};

/** users.txt: the users and groups both the oracle's chroot and this host get. */
const entries = readFileSync(join(FIXTURE, 'users.txt'), 'utf8')
  .split('\n')
  .filter((l) => l !== '' && !l.startsWith('#'))
  .map((l) => l.split(/\s+/) as [string, string, string, string?]);

const isRoot = process.getuid?.() === 0;
const run = (cmd: string, args: string[]): void => {
  execFileSync(cmd, args, { stdio: 'ignore' });
};
const quiet = (cmd: string, args: string[]): void => {
  try {
    run(cmd, args);
  } catch {
    // Not there: nothing to remove.
  }
};
function removeEntries(): void {
  for (const [kind, name] of entries) if (kind === 'user') quiet('userdel', [name]);
  for (const [kind, name] of entries) if (kind === 'group') quiet('groupdel', [name]);
}
beforeAll(() => {
  if (!isRoot) return;
  removeEntries(); // left over by a killed run
  for (const [kind, name, id] of entries) if (kind === 'group') run('groupadd', ['-g', id, name]);
  for (const [kind, name, id, gid] of entries)
    if (kind === 'user')
      run('useradd', ['-u', id, '-g', gid ?? id, '-M', '-N', '-d', '/nonexistent', '-s', '/usr/sbin/nologin', name]);
  for (const [kind, name, , members] of entries) if (kind === 'group' && members) run('gpasswd', ['-M', members, name]);
  clearUserCache();
});
afterAll(() => {
  if (isRoot) removeEntries();
  clearUserCache();
});

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

/** Our log lines in the recording's form: the exec child's errors and the exit lines. */
function logged(log: RecordingLogger, unit: string): string[] {
  const out: string[] = [];
  for (const e of log.errors) {
    // The exec child's own message; not the engine's summary of the failed start (257: `Failed to start UNIT.`).
    const m = new RegExp(`^${unit.replace(/\./g, '\\.')}: (Failed to (?!start).*)$`).exec(e);
    if (m) out.push(`error: ${m[1]}`);
  }
  for (const w of log.warnings) {
    const m = new RegExp(
      `^${unit.replace(/\./g, '\\.')}: ((?:Main|Control) process exited, code=\\S+, status=\\S+)`,
    ).exec(w);
    if (m) out.push(`status: ${m[1]}`);
  }
  return out;
}

describe('credentials and process attributes, as systemd 257', () => {
  it('the fixture has the cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
    expect(cases).toContain('grp-user.service');
    expect(cases).toContain('user-numeric-missing.service');
    expect(cases).toContain('sched-rr.service');
  });

  it.for(cases)('%s', async (unit, ctx) => {
    // User=, groups and real-time scheduling need a root daemon.
    need(ctx, root);
    const dir = tmp('exec-cred-');
    chmodSync(dir, 0o755);
    const probe = join(dir, 'probe.sh');
    copyFileSync(join(FIXTURE, 'probe.sh'), probe);
    chmodSync(probe, 0o755);
    const out = join(dir, 'out.txt');
    writeFileSync(out, '');
    chmodSync(out, 0o666);
    const units = join(dir, 'units');
    mkdirSync(units, { mode: 0o755 });
    for (const f of readdirSync(FIXTURE).filter((f) => f === unit)) {
      const text = readFileSync(join(FIXTURE, f), 'utf8').replace(/\/probe\/probe\.sh (\S+)/g, `${probe} $1 ${out}`);
      writeFileSync(join(units, f), text);
    }
    const log = testLogger();
    engine = new ActivationEngine({ logger: log });
    const report = await engine.start(await loadUnits(units));
    expect(report.failed).toEqual([]);
    const e = engine;
    let started = false;
    const done = new Promise<void>((resolve) =>
      e.on('service-state', (ev) => {
        if (ev.service !== unit) return;
        if (ev.state === 'activating') started = true;
        else if (started && (ev.state === 'inactive' || ev.state === 'failed')) resolve();
      }),
    );
    await e.startUnit(unit).catch(() => undefined);
    await done;
    await engine.stop();
    engine = undefined;
    const want = DELIBERATE[unit] ?? recorded().get(unit) ?? [];
    const probeLines = readFileSync(out, 'utf8').split('\n').filter(Boolean);
    expect([...probeLines, ...logged(log, unit)]).toEqual(want);
  });
});
