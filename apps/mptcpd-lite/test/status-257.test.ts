/**
 * `mptcpd-lite status UNIT` against systemd 257's `systemctl status UNIT` for the same units
 * (packages/activation/test/fixtures/v257/status, recorded with the oracle by its record.sh): the
 * Loaded: line's unit file state (`static` without [Install], `indirect` with only Also=, `disabled;
 * preset: enabled` for a service with one, `enabled; preset: enabled` for a socket with one: mptcpd-lite
 * starts every socket, as an enabled one starts at boot), Active:, Invocation:, TriggeredBy:/Triggers:
 * (an Accept=yes socket triggers its live instances), the Listen: line of each kind, Accepted:/Connected:,
 * Main PID: with the process name or how it ended, Duration:, an instance's description naming its
 * peer, and the exit status.
 * Left out, on 257's side: what only PID 1 knows (CPU:, Memory:, Tasks:, the CGroup: tree), the Process: lines of exited commands and the listeners mptcpd-lite does not
 * open (Netlink, MessageQueue); of the time after `since` and of Duration:, their form.
 */
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, startCli, stopProcess, type Running } from './helpers/cli.js';
import { freePort, tempDir } from './helpers/units.js';

const FIXTURE = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../packages/activation/test/fixtures/v257/status',
);
const PORTS = [8711, 8712, 8713, 8714, 8715, 8716];
const WATCHDOG = path.join(FIXTURE, '..', 'watchdog');

interface Block {
  unit: string;
  lines: string[];
  rc: number;
}

/** expected.txt as `[status UNIT]`, the text, `[rc] N` blocks, in order. */
function recordedBlocks(): Block[] {
  const out: Block[] = [];
  for (const l of readFileSync(path.join(FIXTURE, 'expected.txt'), 'utf8').split('\n')) {
    const head = /^\[status (.+)\]$/.exec(l);
    const rc = /^\[rc\] (\d+)$/.exec(l);
    if (head) out.push({ unit: head[1] as string, lines: [], rc: -1 });
    else if (rc) (out.at(-1) as Block).rc = Number(rc[1]);
    else if (out.length > 0 && l !== '') out.at(-1)?.lines.push(l);
  }
  return out;
}

/** What neither side can be compared on: times, pids, ids, peer ports; and what only PID 1 knows (257). */
function normalize(lines: string[], ours: boolean): string[] {
  return (
    lines
      .filter((l) => !/^ +(CPU|Memory|Tasks|CGroup|IP|IO): /.test(l) && !/^ +[└├│]/.test(l))
      .filter((l) => ours || !/ \((Netlink|MessageQueue)\)$/.test(l))
      // 257's record of each exited command (ExecStart=, ExecStartPre=, …): not kept by mptcpd-lite.
      .filter((l) => ours || !l.startsWith('    Process: '))
      .map((l) =>
        l
          // 257's `since Wed 2026-12-02 17:32:19 UTC; 9ms ago`: the shape is compared, not the time.
          .replace(/ since [A-Z][a-z]{2} \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+; ((\S+ )+ago|now)$/, ' since TIME')
          .replace(/^ Invocation: [0-9a-f]{32}$/, ' Invocation: ID')
          .replace(/^ {3}Duration: (\d+(\.\d+)?(min|s|ms|us) ?)+$/, '   Duration: TIME')
          .replace(/Main PID: \d+/, 'Main PID: PID')
          .replace(/\b127\.0\.0\.1:(?!87\d\d\b)\d+/g, '127.0.0.1:PEER'),
      )
  );
}

let daemon: Running | undefined;
let dir: string | undefined;
afterEach(async () => {
  if (daemon) await stopProcess(daemon, 'SIGTERM');
  daemon = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('mptcpd-lite status UNIT as systemctl status (systemd 257)', () => {
  it('the same text for static, [Install] and Accept=yes units and every listener kind', async () => {
    dir = tempDir('mdl-status-257-');
    const units = path.join(dir, 'units');
    mkdirSync(units);
    const ports = new Map<number, number>();
    for (const p of PORTS) ports.set(p, await freePort());
    const abstract = `st-abstract-${process.pid}`;
    /** Fixture → this run: ports, /run paths, the abstract name, the unit directory. */
    const toRun = (t: string): string => {
      let s = t.replaceAll('/run/st-', `${dir}/st-`).replaceAll('@st-abstract', `@${abstract}`);
      for (const [from, to] of ports) s = s.replaceAll(String(from), String(to));
      return s;
    };
    /** This run → the fixture's words (what 257 printed). */
    const back = (t: string): string => {
      let s = t.replaceAll(`${units}/`, '/oracle/units/').replaceAll(`${dir}/st-`, '/run/st-');
      s = s.replaceAll(`@${abstract}`, '@st-abstract');
      for (const [from, to] of ports) s = s.replace(new RegExp(`\\b${to}\\b`, 'g'), String(from));
      return s;
    };
    for (const f of readdirSync(FIXTURE).filter((f) => /\.(socket|service)$/.test(f) && f !== 'driver.service'))
      writeFileSync(path.join(units, f), toRun(readFileSync(path.join(FIXTURE, f), 'utf8')));
    writeFileSync(path.join(dir, 'st-special'), '');
    const control = path.join(dir, 'control.sock');
    daemon = startCli(['run', '--units', units, '--control', control]);
    await daemon.waitFor(/^\{"event":"ready"/, 15000);

    const got: Block[] = [];
    const status = async (unit: string): Promise<void> => {
      const r = await runCli(['status', unit, '--lines=0', '--control', control]);
      got.push({ unit: back(unit), lines: back(r.stdout).split('\n').filter(Boolean), rc: r.code ?? -1 });
    };
    const state = async (unit: string): Promise<string> => {
      const r = await runCli(['status', unit, '--json', '--lines=0', '--control', control]);
      return (JSON.parse(r.stdout) as Array<{ activeState?: string }>)[0]?.activeState ?? 'missing';
    };
    const until = async (unit: string, want: (s: string) => boolean): Promise<void> => {
      while (!want(await state(unit))) await new Promise((r) => setImmediate(r));
    };
    const connect = (port: number): Promise<net.Socket> =>
      new Promise((resolve, reject) => {
        const c = net.connect(ports.get(port) as number, '127.0.0.1', () => resolve(c));
        c.on('error', reject);
      });
    const triggers = async (unit: string): Promise<string[]> => {
      const r = await runCli(['status', unit, '--json', '--lines=0', '--control', control]);
      return (JSON.parse(r.stdout) as Array<{ triggers: string[] }>)[0]?.triggers ?? [];
    };

    // driver.sh's steps (enabled.service left out: 257's `systemctl enable` has no counterpart here).
    for (const u of ['plain.service', 'wanted.service', 'alsoonly.service']) await status(u);
    await status('kinds.socket');
    await status('kindsd.service');
    const held = await connect(8711);
    await until('kindsd.service', (s) => s === 'active');
    await status('kinds.socket');
    await status('kindsd.service');
    await status('special.socket');
    held.destroy();
    await status('inst.socket');
    const a = await connect(8715);
    const b = await connect(8716);
    const [ia] = await (async () => {
      for (;;) {
        const t = [...(await triggers('inst.socket')), ...(await triggers('instinst.socket'))];
        if (t.length === 2) return t;
        await new Promise((r) => setImmediate(r));
      }
    })();
    const instances = [ia as string, ...(await triggers('instinst.socket'))];
    for (const i of instances) await until(i, (s) => s === 'active');
    await status('inst.socket');
    for (const i of instances) await status(i);
    a.destroy();
    b.destroy();
    for (const i of instances) await until(i, (s) => s !== 'active');
    while ((await triggers('inst.socket')).length + (await triggers('instinst.socket')).length > 0)
      await new Promise((r) => setImmediate(r));
    await status('inst.socket');
    await status('instinst.socket');
    expect((await runCli(['start', 'ran.service', '--control', control])).code).toBe(0);
    await until('ran.service', (s) => s === 'inactive');
    await status('ran.service');

    const want = recordedBlocks().filter((b) => b.unit !== 'enabled.service');
    const peer = (u: string): string => u.replace(/\b127\.0\.0\.1:(?!87\d\d\b)\d+/g, '127.0.0.1:PEER');
    expect(got.map((b) => peer(b.unit))).toEqual(want.map((b) => peer(b.unit)));
    for (const [i, w] of want.entries()) {
      const g = got[i] as Block;
      // special.socket: 257 was not asked to start it (it cannot watch a regular file's fd, and fails
      // as mptcpd-lite's does, which starts every socket): its state is not compared, its lines are.
      const skipActive = w.unit === 'special.socket';
      const drop = (ls: string[]): string[] =>
        skipActive ? ls.slice(1).filter((l) => !l.startsWith('     Active: ')) : ls;
      expect(drop(normalize(g.lines, true)), w.unit).toEqual(drop(normalize(w.lines, false)));
      if (!skipActive) expect(g.rc, `${w.unit} exit status`).toBe(w.rc);
    }
  }, 60_000);

  it('Main PID: of a service whose main process was killed (the watchdog fixture): how it ended', async () => {
    dir = tempDir('mdl-status-257-');
    const units = path.join(dir, 'units');
    mkdirSync(units);
    const names = ['wd.service', 'wdterm.service'];
    for (const f of names)
      writeFileSync(
        path.join(units, f),
        readFileSync(path.join(WATCHDOG, f), 'utf8').replaceAll('/oracle/out/show.txt', path.join(dir, 'post.txt')),
      );
    const control = path.join(dir, 'control.sock');
    daemon = startCli(['run', '--units', units, '--control', control]);
    await daemon.waitFor(/^\{"event":"ready"/, 15000);
    const recorded = readFileSync(path.join(WATCHDOG, 'expected.txt'), 'utf8').split('\n');
    for (const u of names) {
      expect((await runCli(['start', u, '--control', control])).code).toBe(0);
      for (;;) {
        const r = await runCli(['status', u, '--json', '--lines=0', '--control', control]);
        if ((JSON.parse(r.stdout) as Array<{ activeState: string }>)[0]?.activeState === 'failed') break;
        await new Promise((r) => setImmediate(r));
      }
      // driver.sh's cut of the text: the Active: line without its time, Main PID: without the number.
      const text = (await runCli(['status', u, '--lines=0', '--control', control])).stdout.split('\n');
      const ours = text.flatMap((l) => {
        const active = /^ *(Active: [a-z]+ \([^)]*\)( \(Result: [a-z-]+\))?)/.exec(l);
        if (active) return [`[status] ${u}: ${active[1]}`];
        const main = /^ *(Main PID: )[0-9]+(.*)$/.exec(l);
        return main ? [`[status] ${u}: ${main[1]}PID${main[2]}`] : [];
      });
      expect(ours).toEqual(recorded.filter((l) => l.startsWith(`[status] ${u}: `)));
    }
  }, 60_000);
});
