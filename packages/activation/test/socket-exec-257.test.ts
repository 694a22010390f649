/**
 * A socket unit's ExecStartPre=/ExecStartPost=/ExecStopPre=/ExecStopPost= as systemd 257 runs them
 * (fixtures/v257/socket-exec, recorded with the oracle by record.sh): each fixture socket is started
 * (an Accept=yes one, or one marked `# oracle: connect`, gets a connection) and the engine stopped, and
 * then compared with the recording:
 *
 * - the lines its commands wrote, in order: whether the socket was listening while each ran (never
 *   during ExecStartPre=, always during ExecStartPost=/ExecStopPre=, not during ExecStopPost= unless
 *   PassFileDescriptorsToExec= gave it the fds), uid, directory, Environment=, and the activation
 *   variables (no LISTEN_FDS, no MAINPID); which commands ran at all (a failing ExecStartPre= runs
 *   neither the rest nor ExecStopPost=; a failing ExecStartPost= runs ExecStopPre= and ExecStopPost=);
 * - the names of the variables we model (the rest is the manager's: JOURNAL_STREAM, MEMORY_PRESSURE_*,
 *   LANG; USER/LOGNAME/HOME/SHELL are compared here by name, by value in user-env-257.test.ts);
 * - the start's outcome (systemctl's rc, `Active:`) and the unit's log lines (`Control process
 *   exited, …`, `Failed with result '…'.`, `Starting timed out. Terminating.`, `Killing process N (sleep)
 *   with signal SIGKILL.`, `Deactivated successfully.`).
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivationEngine } from '../src/index.js';
import type { Logger } from '../src/logger.js';
import { need, root } from './helpers/capability.js';
import { loadUnits } from './helpers/load.js';
import { tmp } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/socket-exec/', import.meta.url));
const expected = readFileSync(join(FIXTURE, 'expected.txt'), 'utf8');
const sockets = readdirSync(FIXTURE)
  .filter((f) => f.endsWith('.socket'))
  .map((f) => f.slice(0, -'.socket'.length));

/** The variables the engine decides; the others are the manager's or the shell's (see above). */
const MODELLED = new Set([
  'FOO',
  'INVOCATION_ID',
  'LISTEN_FDNAMES',
  'LISTEN_FDS',
  'LISTEN_PID',
  'MAINPID',
  'NOTIFY_SOCKET',
  'PATH',
  'SYSTEMD_EXEC_PID',
  'USER',
  'LOGNAME',
  'HOME',
  'SHELL',
  'WATCHDOG_USEC',
]);
const PROBE_FIELDS = [
  'listening',
  'uid',
  'cwd',
  'FOO',
  'MAINPID',
  'LISTEN_FDS',
  'LISTEN_FDNAMES',
  'LISTEN_PID',
  'USER',
  'LOGNAME',
  'HOME',
];
/**
 * The unit's own messages that we log as 257 does (its job messages, `Starting …`, are the manager's).
 * Not compared: posttimeout's `Unit process N (sleep) remains running after unit stopped.`: the oracle's
 * manager runs in a container, where unit_kill_context() does not wait for the cgroup's processes to
 * die after signalling them (FINAL_SIGTERM, KillMode=control-group), so it enters dead with the sleep
 * not yet reaped; the engine waits for the processes it signalled (as 257 does on a host).
 */
const UNIT_MESSAGE =
  /^(Control process exited, .*[^)]$|Failed with result |Starting timed out|Stopping timed out|Deactivated successfully|Still around after SIGKILL|Processes still around|Killing process)/;

const withoutPid = (m: string): string => m.replace(/^Killing process \d+/, 'Killing process N');

interface Recorded {
  lines: string[];
  start: string[];
  log: string[];
}

function recorded(unit: string): Recorded {
  const next = `^\\[(?:${sockets.join('|')})\\]$`;
  const m = new RegExp(`^\\[${unit}\\]\\n([\\s\\S]*?)(?=${next}|(?![\\s\\S]))`, 'm').exec(expected);
  if (!m) throw new Error(`expected.txt has no [${unit}]`);
  const [lines = '', start = '', log = ''] = (m[1] as string).split(/^## (?:start|log)\n/m);
  const split = (t: string): string[] => t.split('\n').filter(Boolean);
  return { lines: split(lines), start: split(start), log: split(log) };
}

/** A probe line reduced to what we compare; other lines as they are. */
function normalize(line: string): string {
  if (line.startsWith('  env '))
    return `  env ${line
      .slice(6)
      .split(' ')
      .filter((n) => MODELLED.has(n))
      .join(' ')}`;
  const m = /^(\[[a-z0-9-]+\]) (listening=.*)$/.exec(line);
  if (!m) return line;
  const fields = new Map((m[2] as string).split(' ').map((kv) => kv.split('=', 2) as [string, string]));
  return [m[1], ...PROBE_FIELDS.map((k) => `${k}=${fields.get(k) ?? '?'}`)].join(' ');
}

function recordingLogger(): Logger & { lines: Array<{ level: string; unit?: string; message: string }> } {
  const lines: Array<{ level: string; unit?: string; message: string }> = [];
  const at =
    (level: string) =>
    (message: string, fields?: { unit?: string }): void => {
      lines.push({ level, ...(fields?.unit ? { unit: fields.unit } : {}), message });
      if (process.env.ACT_DEBUG === '1') process.stderr.write(`${level} ${fields?.unit ?? ''}: ${message}\n`);
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** One connection to an AF_UNIX stream socket; resolves with what the instance answered. */
function askUnix(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const c = connect(path);
    c.setEncoding('utf8');
    c.on('data', (d: string) => (got += d));
    c.on('end', () => resolve(got));
    c.on('error', reject);
  });
}

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

describe('socket unit control commands (systemd 257)', () => {
  it.for(sockets)('%s.socket', async (unit, ctx) => {
    // User=nobody (prefix.socket) needs a daemon that can switch users.
    if (readFileSync(join(FIXTURE, `${unit}.socket`), 'utf8').includes('\nUser=')) need(ctx, root);
    const dir = tmp('socket-exec-');
    // User=nobody's commands write here and run the probe from here: the checkout may be closed to them.
    chmodSync(dir, 0o755);
    const probe = join(dir, 'probe.sh');
    copyFileSync(join(FIXTURE, 'probe.sh'), probe);
    chmodSync(probe, 0o755);
    const units = join(dir, 'units');
    const out = join(dir, 'out');
    for (const d of [units, out]) mkdirSync(d, { mode: 0o755 });
    for (const f of readdirSync(FIXTURE).filter(
      (f) => f === `${unit}.socket` || f.startsWith(`${unit}.`) || f.startsWith(`${unit}@`),
    )) {
      const text = readFileSync(join(FIXTURE, f), 'utf8')
        .replaceAll('/oracle/out/', `${out}/`)
        .replaceAll('/probe/probe.sh', probe)
        .replaceAll('/run/se-', `${dir}/se-`);
      writeFileSync(join(units, f), text);
    }
    const rec = recorded(unit);
    const log = recordingLogger();
    engine = new ActivationEngine({ logger: log });
    const report = await engine.start(await loadUnits(units));
    const info = engine.unitInfo(`${unit}.socket`);

    // the start: systemctl's rc and Active:
    const rc = report.failed.length === 0 ? 0 : 1;
    const active =
      info?.activeState === 'failed' ? `failed (Result: ${info.result})` : `${info?.activeState} (${info?.subState})`;
    expect([`rc=${rc}`, `Active: ${active}`]).toEqual(rec.start);

    if (existsSync(join(FIXTURE, `${unit}@.service`))) expect(await askUnix(`${dir}/se-${unit}.sock`)).toBe('ok\n');
    if (readFileSync(join(FIXTURE, `${unit}.socket`), 'utf8').includes('# oracle: connect')) {
      // A connection its service never takes: retriggered until the service's start limit fails the socket.
      const e = engine;
      const down = new Promise<void>((resolve) =>
        e.on('socket-state', (ev) => {
          if (ev.socket === `${unit}.socket` && (ev.state === 'failed' || ev.state === 'dead')) resolve();
        }),
      );
      const c = connect(`${dir}/se-${unit}.sock`);
      c.on('error', () => undefined);
      await down;
      c.destroy();
    }
    await engine.stop();
    engine = undefined;

    const file = join(out, `${unit}.txt`);
    const got = existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
    expect(got.map(normalize)).toEqual(rec.lines.map(normalize));

    const prefix = `${unit}.socket: `;
    const want = rec.log
      .filter((l) => l.startsWith(prefix))
      .map((l) => l.slice(prefix.length))
      .filter((m) => UNIT_MESSAGE.test(m))
      .map(withoutPid);
    const ours = log.lines
      .filter((l) => l.unit === `${unit}.socket` && l.level !== 'debug' && UNIT_MESSAGE.test(l.message))
      .map((l) => withoutPid(l.message));
    expect(ours).toEqual(want);
  });
});
